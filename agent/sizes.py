"""Docker-style sizes ('512m', '8g'): parsed once, by the settings and the sandbox alike."""

from __future__ import annotations

import re

__all__ = ["parse_size"]

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(size: str | int) -> int:
    """Bytes of a Docker-style size ('512m', '8g', '1.5G', 4096); ValueError for anything else."""
    if isinstance(size, int):
        return size
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?\s*", size.lower())
    if not found:
        raise ValueError(f"bad size {size!r}; use a number with k, m, g or t, like '8g'")
    return int(float(found.group(1)) * _UNITS[found.group(2)])
