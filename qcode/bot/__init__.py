"""The CI bot: turns a labelled GitHub issue (or an `@qcode` comment) into a pull request.

`qcode bot` (qcode/commands/bot.py) is the front door; `run_bot` is the whole flow.
"""

from qcode.bot.events import CommentEvent, GitHubEvent, IssuesEvent, load_event, parse_event
from qcode.bot.github import API_VERSION, GitHubClient, GitHubError, PullRequest
from qcode.bot.runner import BotOptions, BotOutcome, branch_for, run_bot
from qcode.bot.triggers import BOT_MARKER, Decision, TriggerConfig, decide

__all__ = [
    "API_VERSION",
    "BOT_MARKER",
    "BotOptions",
    "BotOutcome",
    "CommentEvent",
    "Decision",
    "GitHubClient",
    "GitHubError",
    "GitHubEvent",
    "IssuesEvent",
    "PullRequest",
    "TriggerConfig",
    "branch_for",
    "decide",
    "load_event",
    "parse_event",
    "run_bot",
]
