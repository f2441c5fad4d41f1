from qcode.agent.compaction import compact, message_chars


def _history(n: int, size: int = 1000) -> list[dict]:
    messages: list[dict] = [{"role": "system", "content": "sys"}, {"role": "user", "content": "the task"}]
    for i in range(n):
        messages.append(
            {
                "role": "assistant",
                "content": f"step {i}",
                "tool_calls": [
                    {
                        "id": f"c{i}",
                        "type": "function",
                        "function": {
                            "name": "write_file",
                            "arguments": {"path": f"f{i}", "content": "x" * 5000},
                        },
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": f"c{i}", "name": "shell", "content": "o" * size})
    return messages


def test_old_outputs_shrink_recent_and_task_stay() -> None:
    messages = _history(10)
    compacted, dropped = compact(messages, keep_recent=3)
    assert len(compacted) == len(messages)
    assert compacted[:2] == messages[:2]
    assert compacted[-6:] == messages[-6:]  # the last three steps untouched
    tools = [m for m in compacted if m["role"] == "tool"]
    assert all("compacted by qcode" in m["content"] for m in tools[:7])
    assert all(m["content"] == "o" * 1000 for m in tools[7:])
    assert message_chars(compacted) < message_chars(messages) / 2
    assert {d["tool"] for d in dropped} == {"shell", "arguments"}
    assert sum(d["chars"] for d in dropped) == 7 * 1000 + 7 * 5000
    assert all(m["content"].startswith("step") for m in compacted if m["role"] == "assistant")


def test_nothing_to_drop_when_history_is_short() -> None:
    messages = _history(2)
    compacted, dropped = compact(messages, keep_recent=6)
    assert compacted == messages and dropped == []


def test_dropping_old_turns_keeps_the_history_well_formed() -> None:
    messages = _history(10)
    compacted, dropped = compact(messages, keep_recent=2, drop_old_turns=True)
    assert compacted[:2] == messages[:2]
    assert compacted[2]["role"] == "user" and "removed 8 earlier turns" in compacted[2]["content"]
    assert compacted[3:] == messages[-4:]
    assert dropped[0]["turns"] == 8
    # every tool result still follows the assistant turn that asked for it
    ids = {c["id"] for m in compacted if m["role"] == "assistant" for c in m.get("tool_calls", [])}
    assert {m["tool_call_id"] for m in compacted if m["role"] == "tool"} <= ids
