"""The event log is the conversation: the model's messages are derived from the loop's events.

One place appends (`EventLog.append`), for live and resumed sessions alike, so a resumed session
sends the engine the same messages, token for token, as the live one did (the prefix cache).
Derivation rules:
- a user message, a model turn and a tool result are each one chat message (`Event.message`);
- a turn's answers follow it in call order (Qwen pairs results with calls by position), and a
  call that never got one (a stopped run) is answered `NOT_RUN`, so the history stays well-formed;
- a `Compacted` event replaces (or removes) the messages of the events it lists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from qcode.agent.contracts import NOT_RUN, Message, tool_message
from qcode.agent.events import Compacted, ModelTurn, ObservationMade, UserMessage

__all__ = ["EventLog", "Entry", "SYSTEM_ID"]

SYSTEM_ID = "system"
"""The id of the system prompt's entry: qcode renders it, no event holds it."""

Entry = tuple[str, Message]
"""(event id, the message the model sees for it)."""


@dataclass(frozen=True)
class _Item:
    """What the log keeps of a conversational event: its id and message, and for pairing answers
    with calls, the turn's calls or the answer's call id (not the event: its `data` may be big)."""

    id: str
    message: Message
    calls: tuple[tuple[str, str], ...] | None = None
    """(call id, tool name) per call of a model turn; None for anything else."""
    answers: str | None = None
    """The call id a tool result answers."""


@dataclass
class _OpenTurn:
    """A model turn whose answers are still being collected."""

    turn: _Item
    answers: dict[str, Entry] = field(default_factory=dict)
    strays: list[Entry] = field(default_factory=list)
    """Answers to ids the turn did not call (kept last, in order)."""

    def close(self) -> list[Entry]:
        entries = []
        for call_id, name in self.turn.calls or ():
            answer = self.answers.get(call_id)
            if answer is None:  # never answered: the run was stopped before this call ran
                answer = (f"{self.turn.id}:{call_id}", tool_message(call_id, name, NOT_RUN))
            entries.append(answer)
        return entries + self.strays


class EventLog:
    """The events that make up the model's conversation, and the messages derived from them."""

    def __init__(self, system: str) -> None:
        self.system = system
        self._items: list[_Item] = []
        self._replaced: dict[str, Message | None] = {}
        self._entries: list[Entry] | None = None

    def append(self, event: object) -> None:
        """Take any event; those that are (or change) chat messages become part of the history."""
        if isinstance(event, Compacted):
            self._replaced.update(event.replaced)
        elif isinstance(event, ModelTurn):
            calls = tuple((call.id, call.name) for call in event.tool_calls)
            self._items.append(_Item(event.id, event.message(), calls=calls))
        elif isinstance(event, ObservationMade):
            self._items.append(_Item(event.id, event.message(), answers=event.call_id))
        elif isinstance(event, UserMessage):
            self._items.append(_Item(event.id, event.message()))
        else:
            return
        self._entries = None

    def extend(self, events: Iterable[object]) -> None:
        for event in events:
            self.append(event)

    @property
    def empty(self) -> bool:
        """True before the first user message or turn: the next run is the session's first."""
        return not self._items

    def entries(self) -> list[Entry]:
        """The history as (id, message) pairs, compaction applied; cached until the next append."""
        if self._entries is None:
            derived = [(ident, self._replaced.get(ident, message)) for ident, message in self._fold()]
            self._entries = [(ident, message) for ident, message in derived if message is not None]
        return self._entries

    def messages(self) -> list[Message]:
        return [message for _, message in self.entries()]

    def _fold(self) -> list[Entry]:
        entries: list[Entry] = [(SYSTEM_ID, {"role": "system", "content": self.system})]
        open_turn: _OpenTurn | None = None
        for item in self._items:
            if item.answers is not None:
                entry = (item.id, item.message)
                if open_turn is None:
                    entries.append(entry)
                elif any(call_id == item.answers for call_id, _ in open_turn.turn.calls or ()):
                    open_turn.answers.setdefault(item.answers, entry)
                else:
                    open_turn.strays.append(entry)
                continue
            if open_turn is not None:  # anything else ends the turn's answers
                entries.extend(open_turn.close())
                open_turn = None
            entries.append((item.id, item.message))
            if item.calls is not None:
                open_turn = _OpenTurn(item)
        if open_turn is not None:
            entries.extend(open_turn.close())
        return entries
