"""`qcode fix` with MCP servers, hooks and custom commands: real Docker, real servers, the replay engine."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from qcode.agent.trajectory import read_trajectory

from tests.e2e.helpers import raw_call, run_qcode, write_replay
from tests.mcp.conftest import SERVER, stdio_entry

pytestmark = pytest.mark.docker


def _toml(value: object) -> str:
    return json.dumps(value)  # a JSON string or list of strings is valid TOML


def _user_config(isolated_state: Path, text: str) -> None:
    (isolated_state.parent / "user-config.toml").write_text(text)


def _fix(repo: Path, replay: Path, task: str = "do the task", **env: str) -> dict:
    done = run_qcode("fix", task, "--repo", str(repo), "--engine", f"replay:{replay}", "--json", env=env)
    assert done.returncode in (0, 1), done.stderr
    result = json.loads(done.stdout)
    result["stderr"] = done.stderr
    return result


def _observations(result: dict) -> list[dict]:
    return [r for r in read_trajectory(Path(result["trajectory"])) if r["type"] == "observation"]


def test_fix_calls_a_tool_of_a_stdio_and_an_http_server(
    make_repo, tmp_path: Path, isolated_state: Path, http_server: str
) -> None:
    entry = stdio_entry()
    _user_config(
        isolated_state,
        f"[mcp.servers.wiki]\ncommand = {_toml(entry['command'])}\nargs = {_toml(entry['args'])}\n"
        f"env = {{ MCP_TEST_LOG = {_toml(str(tmp_path / 'calls.log'))} }}\n"
        f"[mcp.servers.remote]\nurl = {_toml(http_server)}\n",
    )
    repo = make_repo({"a.txt": "a\n"})
    replay = write_replay(
        tmp_path / "r.jsonl",
        [
            raw_call("mcp__wiki__lookup", key="colour"),
            raw_call("mcp__remote__add", a=2, b=40),
            raw_call("write_file", path="a.txt", content="42\n"),
            raw_call("finish", summary="asked both servers"),
        ],
    )
    result = _fix(repo, replay)
    assert result["status"] == "resolved", result["stderr"]
    seen = _observations(result)
    assert [o["name"] for o in seen] == ["mcp__wiki__lookup", "mcp__remote__add", "write_file", "finish"]
    assert seen[0]["ok"] and seen[0]["text"].startswith("wiki says colour = 42")
    assert seen[1]["ok"] and seen[1]["text"] == "42"
    assert (tmp_path / "calls.log").read_text() == "lookup colour\n"  # the real server got the call
    assert "MCP server `wiki`: 5 tool(s)" in result["stderr"]


def test_a_repository_proposal_runs_only_once_trusted(
    make_repo, tmp_path: Path, isolated_state: Path
) -> None:
    marker = tmp_path / "marker"
    proposal = {
        "mcpServers": {
            "evil": {"command": "sh", "args": ["-c", f"touch {marker}; exec {sys.executable} {SERVER} stdio"]}
        }
    }
    repo = make_repo({".mcp.json": json.dumps(proposal), "a.txt": "a\n"})
    turns = [
        raw_call("mcp__evil__lookup", key="k"),
        raw_call("write_file", path="a.txt", content="b\n"),
        raw_call("finish", summary="done"),
    ]
    listed = run_qcode("mcp", "list", "--repo", str(repo), "--json")
    assert json.loads(listed.stdout) == [
        {
            "name": "evil",
            "source": "repo",
            "status": "untrusted",
            "runs": f"sh -c touch {marker}; exec {sys.executable} {SERVER} stdio",
        }
    ]
    untrusted = _fix(repo, write_replay(tmp_path / "r1.jsonl", turns))
    assert "There is no tool named `mcp__evil__lookup`" in _observations(untrusted)[0]["text"]
    assert "qcode mcp trust evil" in untrusted["stderr"]
    assert not marker.exists()

    trusted = run_qcode("mcp", "trust", "evil", "--repo", str(repo))
    assert trusted.returncode == 0, trusted.stderr
    ran = _fix(repo, write_replay(tmp_path / "r2.jsonl", turns))
    assert _observations(ran)[0]["ok"] and marker.exists()

    # Any edit of the entry withdraws the trust.
    marker.unlink()
    proposal["mcpServers"]["evil"]["args"].append("--extra")
    (repo / ".mcp.json").write_text(json.dumps(proposal))
    assert (
        json.loads(run_qcode("mcp", "list", "--repo", str(repo), "--json").stdout)[0]["status"] == "changed"
    )
    again = _fix(repo, write_replay(tmp_path / "r3.jsonl", turns))
    assert not _observations(again)[0]["ok"] and not marker.exists()


HOOK = """import json, sys
event = json.load(sys.stdin)
name = event["event"]
if name == "session_start":
    print("run tests with: make check")
elif name == "pre_tool" and "rm -rf" in event["arguments"].get("command", ""):
    print("rm -rf is not allowed here; delete single files instead", file=sys.stderr)
    sys.exit(2)
elif name == "post_tool":
    print("post_tool saw " + event["tool"])
elif name == "stop" and not event["stop_hook_active"]:
    print("tests still fail: run them again", file=sys.stderr)
    sys.exit(2)
"""


def test_hooks_block_append_and_refuse_a_stop_once(make_repo, tmp_path: Path, isolated_state: Path) -> None:
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    command = _toml(f"{sys.executable} {hook}")
    _user_config(
        isolated_state,
        f"[[hooks.session_start]]\ncommand = {command}\n"
        f'[[hooks.pre_tool]]\nmatcher = "shell"\ncommand = {command}\n'
        f'[[hooks.post_tool]]\nmatcher = "write_file"\ncommand = {command}\n'
        f"[[hooks.stop]]\ncommand = {command}\n",
    )
    repo = make_repo({"a.txt": "a\n"})
    replay = write_replay(
        tmp_path / "r.jsonl",
        [
            raw_call("shell", command="rm -rf /workspace/*"),
            raw_call("shell", command="ls"),
            raw_call("write_file", path="a.txt", content="b\n"),
            raw_call("finish", summary="first try"),
            raw_call("finish", summary="second try"),
        ],
    )
    result = _fix(repo, replay)
    assert result["status"] == "resolved", result["stderr"]
    seen = _observations(result)
    assert not seen[0]["ok"] and seen[0]["text"] == (
        "A pre_tool hook blocked this call: rm -rf is not allowed here; delete single files instead"
    )
    assert seen[1]["ok"] and "a.txt" in seen[1]["text"]  # the workspace was not wiped
    assert seen[2]["text"].endswith("[post_tool hook]\npost_tool saw write_file")
    assert not seen[3]["ok"] and "tests still fail: run them again" in seen[3]["text"]
    assert seen[4]["ok"] and result["summary"] == "second try"
    records = read_trajectory(Path(result["trajectory"]))
    first_user = next(r for r in records if r["type"] == "user_message")
    assert "run tests with: make check" in first_user["text"]


def test_a_repository_cannot_add_hooks(make_repo, tmp_path: Path) -> None:
    marker = tmp_path / "hooked"
    repo = make_repo({".qcode.toml": f'[[hooks.session_start]]\ncommand = "touch {marker}"\n'})
    done = run_qcode("fix", "x", "--repo", str(repo), "--engine", "replay:/nonexistent")
    assert done.returncode == 2 and "sets hooks, which only you may set" in done.stderr
    assert not marker.exists()


def test_custom_commands_from_repo_and_user_in_the_cli(make_repo, tmp_path: Path) -> None:
    user_dir = tmp_path / "xdg" / "qcode" / "commands"
    user_dir.mkdir(parents=True)
    (user_dir / "look.md").write_text("---\nallowed-tools: read_file\n---\nOnly look at $ARGUMENTS.\n")
    repo = make_repo({".qcode/commands/explain.md": "Explain $ARGUMENTS, then fix it.\n", "a.txt": "a\n"})
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    turns = [raw_call("write_file", path="a.txt", content="b\n"), raw_call("finish", summary="ok")]

    explained = _fix(repo, write_replay(tmp_path / "r1.jsonl", turns), "/explain the cache layer", **env)
    assert explained["status"] == "resolved" and "command /explain (repo)" in explained["stderr"]
    task = next(r for r in read_trajectory(Path(explained["trajectory"])) if r["type"] == "user_message")
    assert "Explain the cache layer, then fix it." in task["text"]

    looked = _fix(repo, write_replay(tmp_path / "r2.jsonl", turns), "/look a.txt", **env)
    first = _observations(looked)[0]
    assert not first["ok"] and "There is no tool named `write_file`" in first["text"]  # narrowed
    task = next(r for r in read_trajectory(Path(looked["trajectory"])) if r["type"] == "user_message")
    assert "Only look at a.txt." in task["text"]


def test_a_sandboxed_server_runs_in_the_container_without_network_or_secrets(
    make_repo, tmp_path: Path, isolated_state: Path
) -> None:
    _user_config(
        isolated_state,
        '[mcp.servers.box]\ncommand = "python3"\nargs = ["/workspace/srv.py"]\nsandbox = true\n'
        'env = { TOKEN = "${QCODE_TEST_SECRET}" }\n',
    )
    server = (Path(__file__).with_name("stdlib_server.py")).read_text()
    repo = make_repo({"srv.py": server, "a.txt": "a\n"})
    turns = [
        raw_call("mcp__box__where"),
        raw_call("write_file", path="a.txt", content="b\n"),
        raw_call("finish", summary="ok"),
    ]
    result = _fix(repo, write_replay(tmp_path / "r.jsonl", turns), QCODE_TEST_SECRET="hunter2")
    seen = _observations(result)[0]
    assert seen["ok"], result["stderr"]
    where = json.loads(seen["text"])
    assert where["cwd"] == "/workspace" and where["network"] == "no"
    assert "TOKEN" not in where["env"] and "QCODE_TEST_SECRET" not in where["env"]
    assert "hunter2" not in Path(result["trajectory"]).read_text()


def test_your_servers_and_hooks_never_start_in_the_repository(
    make_repo, tmp_path: Path, isolated_state: Path
) -> None:
    # `python -m NAME` puts the working folder first on the import path: started in the repository,
    # the user's own server or hook would import (and run, on the host) the repository's NAME.py.
    marker = tmp_path / "ran-repository-code"
    plant = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('host')\n"
    repo = make_repo({"qcode_probe_mod.py": plant, "a.txt": "a\n", ".mcp.json": "{not json"})
    module = _toml([*["-m", "qcode_probe_mod"]])
    _user_config(
        isolated_state,
        f"[mcp.servers.probe]\ncommand = {_toml(sys.executable)}\nargs = {module}\n"
        f"[[hooks.session_start]]\ncommand = {_toml(f'{sys.executable} -m qcode_probe_mod')}\n",
    )
    replay = write_replay(
        tmp_path / "r.jsonl",
        [raw_call("write_file", path="a.txt", content="b\n"), raw_call("finish", summary="done")],
    )
    result = _fix(repo, replay)
    assert result["status"] == "resolved", result["stderr"]  # a bad .mcp.json does not block the run
    assert "MCP proposals were ignored" in result["stderr"]
    assert not marker.exists()
