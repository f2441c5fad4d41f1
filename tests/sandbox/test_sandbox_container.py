"""The Docker sandbox against a real daemon: one container for the module unless a test
needs its own (closing, interrupts, startup failures)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import docker
import docker.errors
import pytest
from qcode.agent.contracts import Sandbox
from qcode.agent.exceptions import SandboxUnavailable
from qcode.sandbox.container import (
    DockerSandbox,
    SandboxSettings,
    docker_client,
    image_present,
    sandbox_user,
)
from qcode.sandbox.reaper import reap_leftovers

pytestmark = pytest.mark.docker


def test_fits_the_sandbox_protocol(sandbox: DockerSandbox) -> None:
    assert isinstance(sandbox, Sandbox)


def test_cwd_and_exported_env_persist(sandbox: DockerSandbox) -> None:
    assert sandbox.exec("mkdir -p sub && cd sub && export QCODE_X=42 && Y=local").exit_code == 0
    result = sandbox.exec('pwd; echo "$QCODE_X"; echo "$Y"')
    assert result.output == "/workspace/sub\n42\nlocal\n"
    sandbox.exec("cd /workspace")


def test_exit_codes_and_stderr_are_reported(sandbox: DockerSandbox) -> None:
    assert sandbox.exec("true").exit_code == 0
    assert sandbox.exec("false").exit_code == 1
    failed = sandbox.exec("echo out; echo err >&2; (exit 42)")
    assert (failed.exit_code, failed.output) == (42, "out\nerr\n")
    syntax = sandbox.exec("if then fi")
    assert syntax.exit_code == 2 and "syntax error" in syntax.output
    assert sandbox.exec("echo still here").output == "still here\n"


def test_multiline_and_quoted_commands_run_verbatim(sandbox: DockerSandbox) -> None:
    command = "cat <<'EOF'\nit's \"quoted\" \\ $HOME `x`\nEOF\nprintf 'no newline'"
    result = sandbox.exec(command)
    assert result.output == 'it\'s "quoted" \\ $HOME `x`\nno newline'


def test_commands_reading_stdin_get_eof(sandbox: DockerSandbox) -> None:
    for command in ["cat", "read x; echo got=$?", "python3 -c 'import sys; print(sys.stdin.read()!r)'"]:
        result = sandbox.exec(command, timeout=10)
        assert not result.timed_out, command
        assert result.duration < 5
    assert sandbox.exec("read x; echo got=$?").output == "got=1\n"


def test_timeout_kills_the_command_not_the_shell(sandbox: DockerSandbox) -> None:
    sandbox.exec("cd /tmp && export KEEP=me")
    began = time.monotonic()
    result = sandbox.exec("echo started; sleep 600", timeout=2)
    assert time.monotonic() - began < 5
    assert result.timed_out and result.exit_code is None
    assert result.output.startswith("started\n")
    assert "command timed out after 2s and was killed" in result.output
    after = sandbox.exec('pwd; echo "$KEEP"; pgrep -x sleep | wc -l')
    assert after.output == "/tmp\nme\n1\n"  # only the container's own `sleep infinity` is left
    assert not after.shell_restarted
    sandbox.exec("cd /workspace")


def test_timeout_of_a_busy_builtin_restarts_the_shell(sandbox: DockerSandbox) -> None:
    result = sandbox.exec("echo spinning; while :; do :; done", timeout=1)
    assert result.timed_out and result.output.startswith("spinning\n")
    assert "restarted" in result.output
    after = sandbox.exec("echo alive")
    assert after.shell_restarted and after.output.endswith("alive\n")


def test_huge_output_is_capped_head_and_tail(sandbox: DockerSandbox, settings: SandboxSettings) -> None:
    result = sandbox.exec("seq 1 2000000", timeout=60)  # ~14.9 MB
    assert result.exit_code == 0 and result.truncated
    total = sum(len(f"{n}\n") for n in range(1, 2_000_001))
    kept = settings.output_limit
    assert f"[... {total - kept:,} characters omitted ...]" in result.output
    assert result.output.startswith("1\n2\n3\n")
    assert result.output.endswith("1999999\n2000000\n")
    assert len(result.output) < kept + 100


def test_exit_restarts_the_shell_for_the_next_command(sandbox: DockerSandbox) -> None:
    sandbox.exec("cd /tmp")
    gone = sandbox.exec("echo bye; exit 3")
    assert gone.exit_code == 3 and gone.output.startswith("bye\n")
    container_before = sandbox.container_id
    after = sandbox.exec("pwd")
    assert after.shell_restarted and after.exit_code == 0
    assert after.output.endswith("/workspace\n") and "fresh shell" in after.output
    assert sandbox.container_id == container_before
    assert not sandbox.exec("true").shell_restarted


def test_background_output_is_not_lost(sandbox: DockerSandbox) -> None:
    sandbox.exec("rm -f /tmp/go; mkfifo /tmp/go; { cat /tmp/go; echo from-background; } &")
    released = sandbox.exec("echo released > /tmp/go", timeout=10)  # job prints during or after
    waited = sandbox.exec("wait; echo waited", timeout=10)
    assert released.output + waited.output == "released\nfrom-background\nwaited\n"


def test_no_network_but_loopback(sandbox: DockerSandbox) -> None:
    assert sandbox.exec("ls /sys/class/net").output == "lo\n"


def test_runs_unprivileged(sandbox: DockerSandbox) -> None:
    result = sandbox.exec("id -u; id -g; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status")
    uid, gid = sandbox_user()
    assert uid != 0
    assert result.output == f"{uid}\n{gid}\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n"
    assert sandbox.exec("touch /etc/x").exit_code != 0


def test_host_environment_does_not_leak(sandbox: DockerSandbox) -> None:
    env = dict(line.split("=", 1) for line in sandbox.exec("env").output.splitlines() if "=" in line)
    assert "QCODE_TEST_SECRET" not in env  # set on the host by the sandbox fixture
    assert "hunter2" not in sandbox.exec("cat /proc/1/environ | tr '\\0' '\\n'").output
    assert env["HOME"] == "/tmp" and env["PAGER"] == "cat" and env["LANG"] == "C.UTF-8"


def test_tmp_is_a_capped_writable_tmpfs(sandbox: DockerSandbox) -> None:
    result = sandbox.exec("stat -c %a /tmp; df --output=size -m /tmp | tail -1; touch /tmp/ok")
    mode, size = result.output.split()
    assert result.exit_code == 0 and mode == "1777" and int(size) == 512


def test_container_is_hardened(sandbox: DockerSandbox, client: docker.DockerClient) -> None:
    attrs = client.containers.get(sandbox.container_id).attrs
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none" and host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"] and host["Init"] is True
    assert host["PidsLimit"] == 512 and host["Memory"] == 4 * 1024**3
    assert attrs["Config"]["Labels"]["qcode.session"] == "pytest"
    assert attrs["Config"]["Labels"]["qcode.owner"].split(":")[1] == str(os.getpid())


def test_files_belong_to_the_sandbox_user_and_host_can_remove_them(
    sandbox: DockerSandbox, workspace: Path
) -> None:
    assert sandbox.exec("mkdir -p made/deep && echo data > made/deep/f.txt").exit_code == 0
    made = workspace / "made" / "deep" / "f.txt"
    assert (made.stat().st_uid, made.stat().st_gid) == sandbox_user()
    assert made.read_text() == "data\n"
    made.unlink()
    (workspace / "made" / "deep").rmdir()
    (workspace / "made").rmdir()
    assert sandbox.exec("ls made").exit_code != 0


def test_host_files_are_writable_inside(
    client: docker.DockerClient, settings: SandboxSettings, tmp_path: Path
) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("x = 1\n")
    with DockerSandbox(tmp_path, settings, "pytest-own", client=client) as box:
        result = box.exec("echo 'y = 2' >> pkg/mod.py && touch pkg/new && cat pkg/mod.py")
    assert result.output == "x = 1\ny = 2\n"


def test_close_removes_the_container_and_is_idempotent(
    client: docker.DockerClient, settings: SandboxSettings, tmp_path: Path
) -> None:
    box = DockerSandbox(tmp_path, settings, "pytest-close", client=client).start()
    cid = box.container_id
    assert client.containers.get(cid).status == "running"
    box.close()
    box.close()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(cid)


def test_ctrl_c_inside_the_session_still_removes_the_container(
    client: docker.DockerClient, settings: SandboxSettings, tmp_path: Path
) -> None:
    cid = ""
    with pytest.raises(KeyboardInterrupt):
        with DockerSandbox(tmp_path, settings, "pytest-interrupt", client=client) as box:
            cid = box.container_id
            raise KeyboardInterrupt
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(cid)


# Forks children until the kernel refuses one, then reaps them all: the limit was hit, but by the
# time the command returns the process count is back to normal.
_HIT_THE_LIMIT_AND_CLEAN_UP = """python3 -c '
import os, signal
children = []
try:
    while True:
        pid = os.fork()
        if pid == 0:
            signal.pause()
        children.append(pid)
except OSError as err:
    print("refused after", len(children), err.strerror)
for pid in children:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
'"""


def test_a_hit_process_limit_resets_the_sandbox_even_after_the_count_falls(
    client: docker.DockerClient, settings: SandboxSettings, tmp_path: Path
) -> None:
    limited = settings.model_copy(update={"pids_limit": 48})
    with DockerSandbox(tmp_path, limited, "pytest-pids", client=client) as box:
        assert box.exec("export MARK=set; echo $MARK").output.strip() == "set"
        hit = box.exec(_HIT_THE_LIMIT_AND_CLEAN_UP)
        assert "refused after" in hit.output
        assert "process limit was exhausted after this command" in hit.output
        after = box.exec("echo ${MARK:-reset}; pwd")
        assert after.exit_code == 0 and after.output.split() == ["reset", "/workspace"]
        assert "process limit" not in after.output  # reported once, not again


def test_missing_image_is_an_environment_error(
    client: docker.DockerClient, settings: SandboxSettings, tmp_path: Path
) -> None:
    missing = settings.model_copy(update={"image": "qcode-no-such-image:never"})
    assert not image_present(client, missing.image)
    with pytest.raises(SandboxUnavailable, match="not found"):
        DockerSandbox(tmp_path, missing, "pytest-missing", client=client).start()


def test_unreachable_daemon_names_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no.sock")
    with warnings.catch_warnings():
        # docker-py leaks the socket of a failed connect; collect it here, not in a later test
        warnings.simplefilter("ignore", ResourceWarning)
        with pytest.raises(SandboxUnavailable) as info:
            docker_client()
        message = str(info.value)
        del info
        gc.collect()
    assert "not reachable" in message and "DOCKER_HOST" in message and "\n" not in message


def test_sandbox_user_is_never_root() -> None:
    uid, gid = sandbox_user()
    if os.getuid() == 0:
        assert (uid, gid) == (65532, 65532)
    else:
        assert (uid, gid) == (os.getuid(), os.getgid())


def test_atexit_removes_the_container_of_a_process_that_forgot_close(
    client: docker.DockerClient, settings: SandboxSettings, tmp_path: Path
) -> None:
    cid = start_in_child(settings, tmp_path, "sys.exit(0)")
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(cid)


def test_a_killed_owner_leaves_its_container_to_the_reaper(
    client: docker.DockerClient, settings: SandboxSettings, tmp_path: Path
) -> None:
    cid = start_in_child(settings, tmp_path, "os.kill(os.getpid(), signal.SIGKILL)")
    assert client.containers.get(cid).status == "running"
    assert cid in reap_leftovers(client)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(cid)


def start_in_child(settings: SandboxSettings, workspace: Path, ending: str) -> str:
    """Start a sandbox in a child Python that ends with `ending`; return the container id."""
    script = f"""
import os, signal, sys
from pathlib import Path
from qcode.sandbox.container import DockerSandbox, SandboxSettings
box = DockerSandbox(Path({str(workspace)!r}), SandboxSettings(image={settings.image!r}), "child").start()
print(box.container_id, flush=True)
{ending}
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip(), done.stderr
    return done.stdout.strip()
