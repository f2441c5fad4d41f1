"""A package's sdist → a small source tree the offline suite can keep: fetch, trim, pack.

Fetching runs `pip download` in a throwaway container of the sandbox image: pip runs an sdist's
build backend to read its metadata, and no package code may run on the host.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
from qcode.agent.exceptions import UserError
from qcode.evals.repos import extract_archive
from qcode.evals.tasks import DEFAULT_TEST_COMMAND
from qcode.sandbox.container import NOBODY, docker_client

__all__ = ["PackageTree", "fetch_sdist", "prepare_tree", "write_tarball"]

_DROPPED_DIRS = {
    "docs",
    "doc",
    "documentation",
    "benchmarks",
    "examples",
    ".github",
    "bin",
    "tools",
    "code_templates",
    "requirements",
    "changelog.d",
}
_DROPPED_FILES = re.compile(
    r"(?i)^(pkg-info|manifest\.in|.*\.lock|changes.*|changelog.*|history.*|"
    r"noxfile\.py|makefile|tox.*\.ini|tox\.toml|requirements.*\.(txt|in)|todo.*)$"
)
_TEST_PARTS = {"tests", "test", "testing"}
_NOT_SOURCE = {"conftest.py", "setup.py", "_version.py", "__main__.py", "prebuild.py"}
_CA_FILES = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


@dataclass
class PackageTree:
    """A trimmed package source tree and how to test it."""

    name: str
    version: str
    root: Path
    modules: list[str] = field(default_factory=list)
    """Source modules (relative paths) that mutations may touch; tests and tooling excluded."""
    test_command: str = DEFAULT_TEST_COMMAND

    def module_name(self, path: str) -> str:
        dotted = path.removeprefix("src/").removesuffix(".py").removesuffix("/__init__")
        return dotted.replace("/", ".")


def fetch_sdist(spec: str, cache: Path, image: str, log: Callable[[str], object] = print) -> Path:
    """The sdist of `spec` (NAME==VERSION) from the cache, or downloaded into it with pip in a container."""
    name, _, version = spec.partition("==")
    cached = _find_sdist(cache, name, version)
    if cached is not None:
        return cached
    cache.mkdir(parents=True, exist_ok=True)
    os.chmod(cache, 0o777)  # the container's user writes here
    volumes = {str(cache.resolve()): {"bind": "/out", "mode": "rw"}}
    environment = {"HOME": "/tmp", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    ca_file = next(
        (os.environ[var] for var in _CA_FILES if os.path.isfile(os.environ.get(var, ""))),
        "/etc/ssl/certs/ca-certificates.crt",
    )
    if os.path.isfile(ca_file):  # the host's CA bundle, so a TLS-inspecting proxy is trusted as on the host
        volumes[ca_file] = {"bind": "/etc/ssl/qcode-ca.crt", "mode": "ro"}
        environment["PIP_CERT"] = "/etc/ssl/qcode-ca.crt"
    log(f"fetching {spec} with pip (in a container)")
    try:
        docker_client().containers.run(
            image,
            ["pip", "download", "-q", "--no-deps", "--no-binary", ":all:", spec, "-d", "/out"],
            user=f"{NOBODY}:{NOBODY}",
            environment=environment,
            volumes=volumes,
            remove=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
        )
    except docker.errors.ContainerError as err:
        raise UserError(
            f"pip could not download {spec}: {err.stderr!r}; check the name and version"
        ) from None
    found = _find_sdist(cache, name, version)
    if found is None:
        raise UserError(f"pip downloaded no sdist for {spec}; the package may publish wheels only")
    return found


def _find_sdist(cache: Path, name: str, version: str) -> Path | None:
    if not cache.is_dir():
        return None
    for path in sorted(cache.glob("*.tar.gz")):
        stem = path.name.removesuffix(".tar.gz")
        dist, _, dist_version = stem.rpartition("-")
        if _norm(dist) == _norm(name) and (not version or dist_version == version):
            return path
    return None


def prepare_tree(sdist: Path, dest: Path) -> PackageTree:
    """Unpack `sdist` into `dest` (a single top folder stripped) and drop docs and tooling."""
    stem = sdist.name.removesuffix(".tar.gz")
    dist, _, version = stem.rpartition("-")
    shutil.rmtree(dest, ignore_errors=True)
    extract_archive(sdist, dest)
    for path in sorted(dest.iterdir()):
        if path.is_dir() and (path.name in _DROPPED_DIRS or path.name.endswith(".egg-info")):
            shutil.rmtree(path)
        elif path.is_file() and _DROPPED_FILES.match(path.name):
            path.unlink()
    for cache in dest.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    # A fixed hash seed: parametrized ids built from sets must be the same in every run.
    python_path = "PYTHONPATH=src " if (dest / "src").is_dir() else ""
    command = f"PYTHONHASHSEED=0 {python_path}{DEFAULT_TEST_COMMAND}"
    return PackageTree(
        name=_norm(dist), version=version, root=dest, modules=_source_modules(dest), test_command=command
    )


def _source_modules(root: Path) -> list[str]:
    modules = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        name = relative.name
        if _TEST_PARTS & set(relative.parts[:-1]) or name.startswith("test") or name.endswith("_test.py"):
            continue
        if name in _NOT_SOURCE or len(relative.parts) == 1 and name != "__init__.py" and _is_tooling(path):
            continue
        modules.append(relative.as_posix())
    return modules


def _is_tooling(path: Path) -> bool:
    """A top-level script that is not the package (single-module packages are kept)."""
    return path.stem.startswith(("setup", "build", "release", "prebuild", "test"))


def write_tarball(root: Path, tarball: Path) -> None:
    """A byte-for-byte reproducible .tar.gz of `root` (sorted, zero times and owners)."""
    tarball.parent.mkdir(parents=True, exist_ok=True)
    prefix = tarball.name.removesuffix(".tar.gz")
    with (
        open(tarball, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for path in [root, *sorted(root.rglob("*"))]:
            info = tar.gettarinfo(
                str(path), arcname=f"{prefix}/{path.relative_to(root).as_posix()}".rstrip("/.")
            )
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o755 if path.is_dir() or path.stat().st_mode & 0o111 else 0o644
            if info.isfile():
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
