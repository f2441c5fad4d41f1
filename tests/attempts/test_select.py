"""The selection's rules, each on its own, over hand-made evidence (pure: no Docker, no git)."""

from __future__ import annotations

from qcode.agent.attempts import CheckRun, Evidence, detect_test_command, is_test_file, normalise_diff, select

CMD = "python -m pytest -q"
BASE = Evidence(attempt=0, commit="base", verify=CheckRun(1, {"t::ok": "PASSED", "t::bug": "FAILED"}))
GOOD_RUN = CheckRun(0, {"t::ok": "PASSED", "t::bug": "PASSED"})


def cand(n: int, run: CheckRun | None = GOOD_RUN, diff: str = "+fix\n", **kw: object) -> Evidence:
    return Evidence(attempt=n, commit=f"c{n}", verify=run, diff=diff, **kw)  # type: ignore[arg-type]


def test_a_drops_no_change_and_unparsable() -> None:
    picked = select(
        [Evidence(attempt=1), cand(2, problems=["x.py does not parse: line 1"]), cand(3)], BASE, CMD
    )
    assert picked.chosen == 3
    assert picked.steps[0].dropped == {1: "the attempt changed no file", 2: "x.py does not parse: line 1"}
    assert picked.verdicts[1].startswith("lost at (a)")


def test_b_drops_failing_verify_and_c_drops_regressions() -> None:
    regressed = CheckRun(0, {"t::ok": "FAILED", "t::bug": "PASSED"})
    picked = select([cand(1, CheckRun(1, {})), cand(2, regressed), cand(3)], BASE, CMD)
    # exit 0 with a failing test id still counts as a regression (a runner that lies about its exit)
    assert picked.chosen == 3
    assert list(picked.steps[1].dropped) == [1]
    assert "t::ok" in picked.steps[2].dropped[2]


def test_c_counts_a_deleted_test_as_regression() -> None:
    picked = select([cand(1, CheckRun(0, {"t::bug": "PASSED"})), cand(2)], BASE, CMD)
    assert picked.chosen == 2 and 1 in picked.steps[2].dropped


def test_a_step_that_drops_everyone_decides_nothing() -> None:
    picked = select([cand(1, CheckRun(1, {})), cand(2, CheckRun(1, {}))], BASE, CMD)
    assert picked.chosen == 1
    assert picked.steps[1].dropped == {} and picked.steps[1].note.startswith("every remaining attempt")
    assert "also failed (b)" in picked.verdicts[2] or picked.verdicts[2].startswith("lost at (f)")


def test_no_verify_command_skips_b_and_c() -> None:
    picked = select([cand(1, None), cand(2, None)], Evidence(attempt=0), None)
    assert picked.steps[1].note.startswith("skipped") and picked.steps[2].note.startswith("skipped")
    assert picked.chosen == 1 and "cannot judge" in picked.steps[5].note


def test_d_ranks_down_a_candidate_failing_others_reproductions() -> None:
    base = Evidence(attempt=0, commit="b", verify=BASE.verify, reproductions={1: False, 2: False, 3: True})
    one = cand(1, reproductions={1: True, 2: True, 3: True})
    two = cand(2, reproductions={1: False, 2: True, 3: True})  # fails attempt 1's reproduction
    picked = select([one, two], base, CMD)
    assert picked.chosen == 1
    assert picked.steps[3].dropped == {2: "fails the reproduction tests of attempt(s) 1"}
    assert "3" not in picked.steps[3].note  # a test that passes at the base reproduces nothing


def test_e_consensus_behaviour_then_diff() -> None:
    other = CheckRun(0, {"t::ok": "PASSED", "t::bug": "PASSED", "t::new": "PASSED"})
    picked = select(
        [
            cand(1, diff="+a = 1\n"),
            cand(2, other, diff="+b\n"),
            cand(3, diff="+a  =  1\n"),
            cand(4, diff="+c\n"),
        ],
        BASE,
        CMD,
    )
    e = picked.steps[4]
    assert 2 in e.dropped and "behaves like 1" in e.dropped[2]
    assert 4 in e.dropped and "diff" in e.dropped[4]
    assert e.kept == [1, 3] and picked.chosen == 1


def test_f_judge_picks_among_ties_and_bad_answers_fall_back() -> None:
    picked = select([cand(1), cand(2)], BASE, CMD, judge=lambda ids: (2, "smaller"))
    assert picked.chosen == 2 and picked.verdicts[1] == "lost at (f): the judge preferred attempt 2: smaller"
    confused = select([cand(1), cand(2)], BASE, CMD, judge=lambda ids: (7, "no such attempt"))
    assert confused.chosen == 1 and confused.steps[5].note == "the judge gave no valid choice"


def test_nothing_chosen_when_nothing_applies() -> None:
    picked = select([Evidence(attempt=1), Evidence(attempt=2)], BASE, CMD)
    assert picked.chosen is None and "no attempt" in picked.reason


def test_normalise_diff_ignores_spacing_headers_and_order() -> None:
    one = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a=1\n+a = 2\n+b\n"
    two = "--- a/x.py\n+++ b/x.py\n@@ -3 +3 @@\n+b\n-a=1\n+a  =  2\n"
    assert normalise_diff(one) == normalise_diff(two) != normalise_diff("+a = 3\n")


def test_detect_test_command_by_files_only() -> None:
    assert detect_test_command(["src/a.py", "tests/test_a.py"]).startswith("python -m pytest")
    assert detect_test_command(["package.json", "index.js"]) == "npm test"
    assert detect_test_command(["go.mod", "main.go"]) == "go test ./..."
    assert detect_test_command(["Cargo.toml", "src/lib.rs"]) == "cargo test"
    assert detect_test_command(["README.md"]) is None
    assert (
        is_test_file("pkg/foo_test.py")
        and is_test_file("tests/helpers.py")
        and not is_test_file("conftest.py")
    )


def test_base_cache_round_trips_survives_corruption_and_stays_bounded(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from qcode.agent.attempts._checks import BASE_CACHE_ENTRIES, BaseCache

    cache = BaseCache(tmp_path / "cache")
    run = CheckRun(1, {"t::a": "PASSED"}, "tail")
    cache.put("base", CMD, run)
    assert cache.get("base", CMD) == run and cache.get("base", "other") is None
    next((tmp_path / "cache").glob("*.json")).write_text("{not json")
    assert cache.get("base", CMD) is None  # corrupt: run the base again
    for n in range(BASE_CACHE_ENTRIES + 5):
        cache.put(f"base-{n}", CMD, run)
    assert len(list((tmp_path / "cache").glob("*.json"))) == BASE_CACHE_ENTRIES


def test_b_when_nothing_passes_the_fewest_failing_tests_go_on() -> None:
    """A test that fails whatever the change must not hand the choice to two decoys that agree."""
    flaky = {"t::flaky": "FAILED", "t::ok": "PASSED"}
    gold = cand(1, CheckRun(1, {**flaky, "t::bug": "PASSED"}), diff="+gold\n")
    decoy = CheckRun(1, {**flaky, "t::bug": "FAILED"})
    picked = select([cand(2, decoy, diff="+d\n"), gold, cand(3, decoy, diff="+d\n")], BASE, CMD)
    assert picked.chosen == 1
    assert picked.steps[1].dropped == {
        2: "2 failing tests, another attempt 1",
        3: "2 failing tests, another attempt 1",
    }
    assert "fewest failing tests (1)" in picked.steps[1].note
