"""`qcode fix --approval`: the terminal approver asks what the policy flags, and only at a terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from qcode.agent.contracts import ToolCall
from qcode.agent.exceptions import UserError
from qcode.tools.builtin import default_registry

from qcode.approver import TerminalApprover, require_terminal

_REGISTRY = default_registry()


def _request(name: str, **arguments: object):  # type: ignore[no-untyped-def]
    return _REGISTRY.request(ToolCall(id="c1", name=name, arguments=arguments))


def _approver(mode: str, answers: list[str]) -> tuple[TerminalApprover, list[str]]:
    shown: list[str] = []

    def ask(prompt: str) -> str:
        shown.append(prompt)
        return answers.pop(0)

    return TerminalApprover(mode, ask, shown.append), shown  # type: ignore[arg-type]


def test_asks_only_what_the_policy_flags_and_remembers_always() -> None:
    approver, shown = _approver("auto-edit", ["n", "a"])
    assert approver(_request("write_file", path="a.py", content="x")) is None  # auto-edit: no prompt
    assert approver(_request("shell", command="ls -la")) is None  # safe: no prompt
    assert shown == []
    assert approver(_request("shell", command="make install")) == "the user rejected it"
    assert "shell: $ make install" in shown
    assert approver(_request("shell", command="make test")) is None  # "a": always this command
    assert approver(_request("shell", command="make test")) is None  # not asked again
    assert shown.count("Allow? [y]es / [n]o / [a]lways: ") == 2


def test_typos_are_asked_again_and_three_strikes_reject() -> None:
    approver, _ = _approver("ask", ["maybe", "", "?"])
    assert approver(_request("edit_file", path="a.py", old_text="a", new_text="b")) == "the user rejected it"
    approver, _ = _approver("ask", ["what", "yes"])
    assert approver(_request("edit_file", path="a.py", old_text="a", new_text="b")) is None


def test_yolo_never_asks_and_an_asking_mode_needs_a_terminal() -> None:
    approver, shown = _approver("yolo", [])
    assert approver(_request("shell", command="rm -rf /")) is None and shown == []
    require_terminal("yolo", stdin_is_tty=False)
    with pytest.raises(UserError, match="--approval ask asks at the terminal"):
        require_terminal("ask", stdin_is_tty=False)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["ask", "auto-edit"])
def test_fix_refuses_an_asking_mode_without_a_terminal(tmp_path: Path, mode: str) -> None:
    """One line, exit 2, before any settings, engine or sandbox: the folder need not even exist."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "qcode",
            "fix",
            "bug",
            "--repo",
            str(tmp_path / "nowhere"),
            "--approval",
            mode,
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"qcode: --approval {mode} asks at the terminal, but stdin is not one; run it in a terminal or "
        "use --approval yolo (the default)"
    ]


def test_the_cli_offers_exactly_the_policys_modes() -> None:
    """The flag lists the modes literally (the CLI loads no pydantic to print --help): keep in step."""
    from qcode.agent.policy import APPROVAL_MODES

    from qcode.cli import fix

    (option,) = [param for param in fix.params if param.name == "approval"]
    assert tuple(option.type.choices) == APPROVAL_MODES  # type: ignore[attr-defined]
    assert option.default == "yolo"  # `qcode fix` keeps its no-prompt default
