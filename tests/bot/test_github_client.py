"""The GitHub client against the local fake API: documented shapes, one-line errors, retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qcode.bot.github import GitHubClient, GitHubError
from tests.bot.fake_github import FakeGitHub

TOKEN = "ghs_clienttest"
PULLS = "/repos/owner/repo/pulls"


@pytest.fixture
def api() -> Iterator[FakeGitHub]:
    with FakeGitHub("owner/repo", TOKEN) as server:
        yield server


def client(api: FakeGitHub, token: str = TOKEN, repo: str = "owner/repo") -> GitHubClient:
    return GitHubClient(api.url, repo, token, attempts=3, backoff=0)


def _open(gh: GitHubClient):  # type: ignore[no-untyped-def]
    return gh.create_pull(title="Fix #7: x", head="qcode/issue-7", base="main", body="Fixes #7", draft=True)


def test_calls_match_githubs_documented_shapes(api: FakeGitHub) -> None:
    with client(api) as gh:
        assert gh.default_branch() == "main"
        assert gh.find_open_pull("qcode/issue-7") is None
        pull = _open(gh)
        assert pull.number == 100 and pull.draft
        assert gh.find_open_pull("qcode/issue-7") == pull
        assert gh.update_pull(100, title="t2", body="b2").number == 100
        assert gh.comment(7, "hello").endswith("#issuecomment-0")
    assert api.violations == []
    assert api.pulls[0]["title"] == "t2" and api.comments[0]["body"] == "hello"
    for request in api.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"


def test_401_names_the_token(api: FakeGitHub) -> None:
    with client(api, token="ghs_wrong") as gh, pytest.raises(GitHubError) as caught:
        gh.default_branch()
    assert str(caught.value) == (
        "GitHub rejected the token on GET /repos/owner/repo (401 Bad credentials); "
        "pass a valid token with GITHUB_TOKEN or --token"
    )
    assert "ghs_wrong" not in str(caught.value)


def test_403_names_the_permissions(api: FakeGitHub) -> None:
    api.fail("POST", PULLS, 403, {"message": "GitHub Actions is not permitted to create pull requests."})
    expected = r"403 GitHub Actions is not permitted.*pull-requests: write"
    with client(api) as gh, pytest.raises(GitHubError, match=expected):
        _open(gh)


def test_404_names_the_repository(api: FakeGitHub) -> None:
    with client(api, repo="owner/nope") as gh, pytest.raises(GitHubError) as caught:
        gh.default_branch()
    message = str(caught.value)
    assert "GET /repos/owner/nope (404 Not Found)" in message and "--repo owner/name" in message


def test_422_pull_request_already_exists(api: FakeGitHub) -> None:
    with client(api) as gh:
        _open(gh)
        with pytest.raises(GitHubError) as caught:
            _open(gh)  # GitHub refuses a second open pull request for the same head
    assert "A pull request already exists for owner:qcode/issue-7 (422)" in str(caught.value)
    assert len(api.pulls) == 1


def test_other_422_shows_githubs_detail(api: FakeGitHub) -> None:
    invalid = {"resource": "PullRequest", "field": "base", "code": "invalid"}
    api.fail("POST", PULLS, 422, {"message": "Validation Failed", "errors": [invalid]})
    with client(api) as gh, pytest.raises(GitHubError, match=r"POST /repos/owner/repo/pulls \(422 invalid\)"):
        _open(gh)


def test_5xx_is_retried_then_succeeds(api: FakeGitHub) -> None:
    api.fail("POST", PULLS, 502, times=2)
    with client(api) as gh:
        assert _open(gh).number == 100
    assert [r.status for r in api.calls("POST", PULLS)] == [502, 502, 201]


def test_5xx_that_persists_is_one_clear_error(api: FakeGitHub) -> None:
    api.fail("POST", PULLS, 503, times=5)
    with client(api) as gh, pytest.raises(GitHubError) as caught:
        _open(gh)
    assert str(caught.value).startswith(
        "GitHub API POST /repos/owner/repo/pulls failed 3 times (last: 503 Service Unavailable)"
    )
    assert len(api.calls("POST", PULLS)) == 3


def test_4xx_is_not_retried(api: FakeGitHub) -> None:
    with client(api, token="ghs_wrong") as gh, pytest.raises(GitHubError):
        gh.comment(7, "x")
    assert len(api.requests) == 1


def test_unreachable_api(api: FakeGitHub) -> None:
    with (
        GitHubClient("http://127.0.0.1:9", "owner/repo", TOKEN, attempts=2, backoff=0) as gh,
        pytest.raises(GitHubError, match=r"failed 2 times \(last: ConnectError"),
    ):
        gh.default_branch()
