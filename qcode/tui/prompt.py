"""The message editor: a multi-line TextArea where Enter sends and Shift+Enter or Ctrl+J starts a line.

Up at the first line and down at the last recall earlier messages; Tab takes the first completion
(a slash command, or a file after `@`) when one is offered, else moves focus as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual import events, on
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static, TextArea

from qcode.tui.completion import Completion, complete

__all__ = ["Completions", "InputHistory", "PromptInput"]

HISTORY_CAP = 500


class InputHistory:
    """Sent messages, oldest first, at most `cap`; browsing keeps the unsent draft to come back to."""

    def __init__(self, cap: int = HISTORY_CAP) -> None:
        self.cap = cap
        self.entries: list[str] = []
        self._index: int | None = None
        self._draft = ""

    def remember(self, text: str) -> None:
        if text and (not self.entries or self.entries[-1] != text):
            self.entries.append(text)
            del self.entries[: -self.cap]
        self._index = None

    def older(self, current: str) -> str | None:
        """The message before the one shown, or None at the oldest."""
        if not self.entries or self._index == 0:
            return None
        if self._index is None:
            self._draft, self._index = current, len(self.entries)
        self._index -= 1
        return self.entries[self._index]

    def newer(self) -> str | None:
        """The message after the one shown, the draft after the newest, None when not browsing."""
        if self._index is None:
            return None
        self._index += 1
        if self._index >= len(self.entries):
            self._index = None
            return self._draft
        return self.entries[self._index]


class Completions(Static):
    """The offered completions, first one highlighted (Tab takes it); hidden when there are none."""

    def show(self, completion: Completion | None) -> None:
        self.display = completion is not None
        if completion is None:
            return
        text = Text()
        for index, candidate in enumerate(completion.candidates):
            text.append(candidate, style="bold reverse" if index == 0 else "")
            text.append("  ")
        text.append("Tab completes", style="dim")
        self.update(text)


class PromptInput(TextArea):
    """Where the person types tasks, follow-ups and `/commands`."""

    BINDINGS = [Binding("tab", "complete", "Complete", show=False)]
    NEWLINE_KEYS = ("shift+enter", "ctrl+j")
    """Handled in `_on_key`, not as bindings: a binding runs only after the key bubbles up to the
    app, so a paste right behind the key (Ctrl+J, then a paste) would land before the new line."""

    class Submitted(Message):
        """Enter was pressed; `text` is the whole message (the app decides whether it is sent)."""

        def __init__(self, prompt: PromptInput, text: str) -> None:
            super().__init__()
            self.prompt, self.text = prompt, text

    class HelpRequested(Message):
        """`?` typed into an empty prompt."""

    class Offered(Message):
        """The completion on offer changed (None: nothing to offer)."""

        def __init__(self, completion: Completion | None) -> None:
            super().__init__()
            self.completion = completion

    def __init__(self, *, commands: Callable[[], Sequence[str]], id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.sent = InputHistory()
        self.files: Sequence[str] = ()
        """Workspace files offered after `@` (set by the app, off the UI thread)."""
        self._commands = commands
        self.completion: Completion | None = None

    # -- sending and new lines ------------------------------------------------------------------

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.post_message(self.Submitted(self, self.text))
            return
        if event.key in self.NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        if event.character == "?" and not self.text:
            event.stop()
            event.prevent_default()
            self.post_message(self.HelpRequested())
            return
        await super()._on_key(event)

    def clear_sent(self, text: str) -> None:
        """The message went out: remember it, empty the editor."""
        self.sent.remember(text)
        self.clear()

    # -- history --------------------------------------------------------------------------------

    def action_cursor_up(self, select: bool = False) -> None:
        if not select and self.cursor_location[0] == 0:
            recalled = self.sent.older(self.text)
            if recalled is not None:
                self._show(recalled)
                return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        if not select and self.cursor_location[0] == self.document.line_count - 1:
            recalled = self.sent.newer()
            if recalled is not None:
                self._show(recalled)
                return
        super().action_cursor_down(select)

    def _show(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)

    # -- completion -----------------------------------------------------------------------------

    @on(TextArea.Changed)
    @on(TextArea.SelectionChanged)
    def _typed(self) -> None:
        before = self.completion
        if self.refresh_completion() != before:
            self.post_message(self.Offered(self.completion))

    def refresh_completion(self) -> Completion | None:
        row, column = self.cursor_location
        before = "\n".join([*self.document.lines[:row], self.document.lines[row][:column]])
        commands = self._commands() if before.startswith("/") else ()  # names are read from files
        self.completion = complete(before, commands, self.files)
        return self.completion

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "complete":
            return self.completion is not None  # otherwise Tab moves focus, as everywhere
        return super().check_action(action, parameters)

    def action_complete(self) -> None:
        if self.completion is None:
            return
        row, column = self.cursor_location
        line_start = sum(len(line) + 1 for line in self.document.lines[:row])
        chosen = self.completion.candidates[0]
        start = (row, max(0, self.completion.start - line_start))
        self.replace(chosen + " ", start, (row, column))
