"""Diagnostics through the real tool registry (syntax tier, host side): what is reported, what is not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from qcode.agent.contracts import Observation, ToolCall
from qcode.agent.events import EventBus
from qcode.agent.recovery import Recovery
from qcode.tools.builtin import default_registry
from qcode.tools.checks import ChangeChecker, DiagnosticsConfig
from qcode.tools.registry import ToolContext

CLEAN = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


class _NoSandbox:
    """The syntax tier never touches the sandbox: any call is a failure of that rule."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"the syntax tier used the sandbox ({name})")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "calc.py").write_text(CLEAN)
    (root / "legacy.py").write_text("def broken(:\n    pass\n\n\ndef fine():\n    return 1\n")
    return root


def _ctx(root: Path, mode: str = "syntax") -> ToolContext:
    checker = ChangeChecker(DiagnosticsConfig(mode=mode))  # type: ignore[arg-type]
    return ToolContext(workspace=root, sandbox=_NoSandbox(), diff=lambda _p: "", checker=checker)  # type: ignore[arg-type]


def _call(ctx: ToolContext, name: str, **arguments: object) -> Observation:
    return default_registry().dispatch(ToolCall(id="c", name=name, arguments=arguments), ctx)


def test_an_edit_that_breaks_syntax_is_applied_reported_and_not_ok(ws: Path) -> None:
    ctx = _ctx(ws)
    obs = _call(ctx, "edit_file", path="calc.py", old_text="return a + b", new_text="return (a + b")
    assert not obs.ok
    assert "(a + b" in (ws / "calc.py").read_text()  # applied
    assert "calc.py:2: `(` is never closed" in obs.text
    assert ">    2\t    return (a + b" in obs.text and obs.text.index("Edited calc.py") == 0
    assert obs.data["diagnostics"] == [
        {"path": "calc.py", "line": 2, "message": "`(` is never closed", "source": "syntax"}
    ]
    assert obs.data["stuck_key"] == "syntax error introduced in calc.py"


def test_a_clean_edit_says_nothing(ws: Path) -> None:
    obs = _call(_ctx(ws), "edit_file", path="calc.py", old_text="return a - b", new_text="return b - a")
    assert obs.ok and "Diagnostics" not in obs.text and "diagnostics" not in obs.data


def test_a_file_broken_before_the_session_is_not_blamed_on_an_edit(ws: Path) -> None:
    ctx = _ctx(ws)
    obs = _call(
        ctx, "edit_file", path="legacy.py", old_text="def fine():", new_text="import os\n\n\ndef fine():"
    )
    assert obs.ok and "Diagnostics" not in obs.text
    obs = _call(ctx, "edit_file", path="./legacy.py", old_text="return 1", new_text="return 2")
    assert obs.ok and "Diagnostics" not in obs.text


def test_writing_a_new_broken_file_is_reported(ws: Path) -> None:
    obs = _call(_ctx(ws), "write_file", path="pkg/new.ts", content="export function f() {\n  return 1;\n")
    assert not obs.ok and "pkg/new.ts:" in obs.text and "missing `}`" in obs.text


def test_off_turns_it_off(ws: Path) -> None:
    obs = _call(_ctx(ws, "off"), "edit_file", path="calc.py", old_text="a + b", new_text="(a + b")
    assert obs.ok and "Diagnostics" not in obs.text


def test_a_change_made_by_a_shell_command_to_an_edited_file_is_checked(ws: Path) -> None:
    ctx = _ctx(ws)
    checker = ctx.checker
    assert _call(ctx, "edit_file", path="calc.py", old_text="a - b", new_text="b - a").ok
    (ws / "calc.py").write_text(CLEAN.replace("return a + b", "return [a + b"))  # as `sed -i` would
    (ws / "other.py").write_text("x = (\n")  # never edited by the model: not its business here
    report = checker.after_shell(ws, None)
    assert report.syntax_broken == ["calc.py"] and "calc.py:2:" in report.text
    assert checker.after_shell(ws, None).text == ""  # reported once, not after every command


def test_a_symlink_swapped_in_for_an_edited_file_is_not_followed(ws: Path, tmp_path: Path) -> None:
    ctx = _ctx(ws)
    assert _call(ctx, "edit_file", path="calc.py", old_text="a - b", new_text="b - a").ok
    secret = tmp_path / "secret.py"
    secret.write_text("password = (\n")
    os.remove(ws / "calc.py")
    os.symlink(secret, ws / "calc.py")  # what code in the sandbox could do between two steps
    report = ctx.checker.after_shell(ws, None)
    assert report.text == "" and "password" not in report.text


def test_repeated_breaks_of_one_file_are_a_repeated_error_for_stuck_detection(ws: Path) -> None:
    ctx = _ctx(ws)
    recovery = Recovery(None, EventBus())
    notices = []
    for n, new_text in enumerate(["return (a + b", "return [a + b", "return {a + b"]):
        obs = _call(ctx, "edit_file", path="calc.py", old_text="return a + b", new_text=new_text)
        assert not obs.ok
        call = ToolCall(id=str(n), name="edit_file", arguments={"path": "calc.py", "new_text": new_text})
        notices.append(recovery.after_call(n, call, obs))
        (ws / "calc.py").write_text(CLEAN)  # the model's next attempt starts from the clean file
    assert notices[:2] == [None, None]
    assert notices[2] is not None and "same error" in notices[2]


BLOCKS = "def check(x):\n    if x:\n        return 1\n    return 0\n\n\ndef other():\n    return 2\n"


def test_an_edit_that_empties_a_python_block_is_reported(ws: Path) -> None:
    (ws / "blocks.py").write_text(BLOCKS)
    obs = _call(
        _ctx(ws),
        "edit_file",
        path="blocks.py",
        old_text="    if x:\n        return 1\n",
        new_text="    if x:\n",
    )
    assert not obs.ok and "blocks.py:2: expected an indented block" in obs.text


def test_a_block_that_was_empty_before_is_not_blamed(ws: Path) -> None:
    (ws / "blocks.py").write_text(BLOCKS.replace("        return 1\n", ""))  # broken before the session
    ctx = _ctx(ws)
    near = _call(ctx, "edit_file", path="blocks.py", old_text="    return 0", new_text="    return -1")
    assert near.ok and "Diagnostics" not in near.text
    far = _call(ctx, "edit_file", path="blocks.py", old_text="return 2", new_text="return 3")
    assert far.ok and "Diagnostics" not in far.text


@pytest.mark.slow
def test_what_a_hostile_file_can_cost_is_bounded(ws: Path) -> None:
    ctx = _ctx(ws)
    huge = "x = 1\n" * 200_000 + "y = (\n"  # over 1 MB: not parsed at all
    assert _call(ctx, "write_file", path="huge.py", content=huge).ok
    minified = "var a=[" + ",".join(["1"] * 50_000) + ";\n"  # one 100 kB line with an error in it
    obs = _call(ctx, "write_file", path="min.js", content=minified)
    assert not obs.ok and max(len(line) for line in obs.text.splitlines()) < 400
