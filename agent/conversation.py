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
    """The events that make up the model's conversation, and the messages derived from them.

    Folded as they arrive: a step costs the new events plus one pass to apply compaction, never a
    replay of the whole log."""

    def __init__(self, system: str) -> None:
        self.system = system
        self._closed: list[Entry] = [(SYSTEM_ID, {"role": "system", "content": system})]
        self._open: _OpenTurn | None = None
        self._replaced: dict[str, Message | None] = {}
        self._entries: list[Entry] | None = None
        self._empty = True

    def append(self, event: object) -> None:
        """Take any event; those that are (or change) chat messages become part of the history."""
        if isinstance(event, Compacted):
            self._compact(event.replaced)
        elif isinstance(event, ModelTurn):
            calls = tuple((call.id, call.name) for call in event.tool_calls)
            self._add(_Item(event.id, event.message(), calls=calls))
        elif isinstance(event, ObservationMade):
            self._add(_Item(event.id, event.message(), answers=event.call_id))
        elif isinstance(event, UserMessage):
            self._add(_Item(event.id, event.message()))
        else:
            return
        self._entries = None

    def extend(self, events: Iterable[object]) -> None:
        for event in events:
            self.append(event)

    @property
    def empty(self) -> bool:
        """True before the first user message or turn: the next run is the session's first."""
        return self._empty

    def entries(self) -> list[Entry]:
        """The history as (id, message) pairs, compaction applied; cached until the next append."""
        if self._entries is None:
            raw = self._closed + (self._open.close() if self._open is not None else [])
            derived = [(ident, self._replaced.get(ident, message)) for ident, message in raw]
            self._entries = [(ident, message) for ident, message in derived if message is not None]
        return self._entries

    def messages(self) -> list[Message]:
        return [message for _, message in self.entries()]

    def _compact(self, replaced: dict[str, Message | None]) -> None:
        """Apply a compaction to the folded history at once: what it removed is freed. Entries of
        the open turn (not yet folded) are looked up in `_replaced` when derived."""
        pending = dict(replaced)
        closed: list[Entry] = []
        for ident, message in self._closed:
            if ident in pending:
                new = pending.pop(ident)
                if new is not None:
                    closed.append((ident, new))
            else:
                closed.append((ident, message))
        self._closed = closed
        self._replaced.update(pending)

    def _add(self, item: _Item) -> None:
        self._empty = False
        entry = (item.id, item.message)
        if item.answers is not None:  # a tool result: it joins its turn's answers
            if self._open is None:
                self._closed.append(entry)
            elif any(call_id == item.answers for call_id, _ in self._open.turn.calls or ()):
                self._open.answers.setdefault(item.answers, entry)
            else:
                self._open.strays.append(entry)
            return
        if self._open is not None:  # anything else ends the open turn's answers
            self._closed.extend(self._open.close())
            self._open = None
        self._closed.append(entry)
        if item.calls is not None:
            self._open = _OpenTurn(item)
