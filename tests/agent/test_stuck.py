from qcode.agent.stuck import Action, StuckDetector, action_key, error_key


def _act(step: int, name: str = "read_file", ok: bool = True, error: str = "", **args: object) -> Action:
    return Action(step=step, key=action_key(name, dict(args)), ok=ok, error=error)


def test_repeated_identical_action_fires_once_then_resets() -> None:
    detector = StuckDetector(repeats=3)
    assert detector.record(_act(1, path="a.py")) is None
    assert detector.record(_act(2, path="a.py")) is None
    signal = detector.record(_act(3, path="a.py"))
    assert signal is not None and signal.kind == "repeated_action" and signal.since_step == 1
    assert detector.record(_act(4, path="a.py")) is None  # cleared: needs three fresh repeats


def test_different_actions_do_not_fire() -> None:
    detector = StuckDetector(repeats=3)
    assert all(detector.record(_act(i, path=f"f{i}.py")) is None for i in range(10))


def test_same_error_from_different_calls() -> None:
    detector = StuckDetector(repeats=3)
    err = error_key("No match for old_text in a.py at 0x7f3a after 1.25s")
    assert err == error_key("No match for old_text in a.py at 0x7f99 after 3.5s")
    results = [detector.record(_act(i, "edit_file", ok=False, error=err, old_text=f"v{i}")) for i in range(3)]
    assert results[:2] == [None, None] and results[2] is not None and results[2].kind == "repeated_error"


def test_cycles_of_two_and_three() -> None:
    detector = StuckDetector(repeats=3)
    seq = [_act(i, "read_file" if i % 2 else "shell", path="a") for i in range(6)]
    signals = [detector.record(a) for a in seq]
    assert signals[-1] is not None and signals[-1].kind == "cycle" and signals[-1].since_step == 0
    detector = StuckDetector(repeats=3)
    names = ["search", "read_file", "shell"] * 3
    signals = [detector.record(_act(i, n, q="x")) for i, n in enumerate(names)]
    assert [s.kind for s in signals if s] == ["cycle"] and signals[-1] is not None
