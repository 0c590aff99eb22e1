"""Through the real proxy with the bundled default policy and the real detectors.

An agent's session goes on when it reads a file of customer records: the tool result is
withheld, identically every turn, and the conversation stays a byte prefix of the next turn.
With personal data redacted, the agent's Edit and Write carry the real values back, so the
file on disk never holds a placeholder.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import anthropic
import pytest

from tests.test_restore_proxy import anthropic_client

FIRST = ["Jane", "Omar", "Li", "Priya", "Carlos", "Anna", "Kwame", "Sofia", "Mateo", "Yuki"]
LAST = ["Doe", "Haddad", "Wei", "Sharma", "Mendes", "Kowalski"]


def customer_rows(count: int) -> list[tuple[str, str, str]]:
    rows = []
    for i in range(count):
        first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
        rows.append((f"{first} {last}", f"{first.lower()}.{last.lower()}{i}@example.com", f"+1 415 555 {100 + i:04d}"))
    return rows


def csv_text(rows) -> str:
    return "name,email,phone\n" + "".join(f"{n},{e},{p}\n" for n, e, p in rows)


def post(proxy, provider, body: dict) -> dict:
    # Compact JSON with "messages" last, as agents send it: turn n+1's body then begins with
    # turn n's, up to the end of its messages array.
    with proxy.client() as client:
        response = client.post(f"{provider.base_url}/v1/messages", content=json.dumps(body, separators=(",", ":")),
                               headers={"content-type": "application/json", "x-api-key": "sk-ant-test",
                                        "anthropic-version": "2023-06-01"})
    assert response.status_code == 200, response.text
    return response.json()


def messages_bytes(body: bytes) -> bytes:
    """The serialized messages array of an upstream body, without its closing bracket."""
    start = body.index(b'"messages":')
    return body[start : body.rindex(b"]")]


def test_an_agent_session_goes_on_when_a_tool_result_is_withheld(proxy, provider, received):
    rows = customer_rows(30)
    system = [{"type": "text", "text": "You are Claude Code, a coding agent.", "cache_control": {"type": "ephemeral"}}]
    history: list[dict] = []
    turns = [
        [{"type": "text", "text": "Find the customer file and tell me how many customers we have."}],
        [{"type": "tool_result", "tool_use_id": "toolu_glob", "content": "data/customers.csv"}],
        [{"type": "tool_result", "tool_use_id": "toolu_read", "content": [{"type": "text", "text": csv_text(rows)}]}],
        [{"type": "text", "text": "Thanks. Which columns does it have?"}],
        [{"type": "text", "text": "Write a short summary in NOTES.md."}],
    ]
    calls = [("toolu_glob", "Glob", {"pattern": "**/*.csv"}), ("toolu_read", "Read", {"file_path": "data/customers.csv"})]
    for number, content in enumerate(turns):
        history.append({"role": "user", "content": content})
        answer = post(proxy, provider, {"model": "claude-test", "max_tokens": 200, "stream": False, "system": system,
                                        "messages": history})
        if number < len(calls):
            tool_id, name, tool_input = calls[number]
            reply = [{"type": "text", "text": answer["content"][0]["text"]},
                     {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}]
        else:
            reply = [{"type": "text", "text": answer["content"][0]["text"]}]
        history.append({"role": "assistant", "content": reply})

    bodies = [item.body for item in received]
    assert len(bodies) == 5  # every turn was forwarded: none was blocked
    upstream = b"".join(bodies).decode()
    for name, email, phone in rows:
        assert email not in upstream and phone not in upstream and f"{name}," not in upstream
    notices = [json.loads(body)["messages"][4]["content"][0]["content"] for body in bodies[2:]]
    assert notices[0].startswith("[llm-dlp withheld this tool result under policy 'default': 30 records of personal data")
    assert "from data/customers.csv" in notices[0]
    assert notices == [notices[0]] * 3  # the identical notice on every later turn
    for earlier, later in zip(bodies, bodies[1:]):
        assert messages_bytes(later).startswith(messages_bytes(earlier))
    decisions = [line["decision"] for line in proxy.audit_lines() if line["event"] == "dlp.decision"][-5:]
    assert decisions[2:] == ["withhold"] * 3
    assert all(email not in proxy.audit_path.read_text() for _, email, _ in rows)


def apply_edit(path: Path, tool_input: dict) -> None:
    """What an agent's Edit tool does: the old string must be in the file exactly once."""
    text = path.read_text()
    if text.count(tool_input["old_string"]) != 1:
        raise AssertionError("String to replace not found in file")
    path.write_text(text.replace(tool_input["old_string"], tool_input["new_string"]))


def tool_input(client: anthropic.Anthropic, model: str, messages: list, streamed: bool) -> dict:
    request = dict(model=model, max_tokens=200, messages=messages)
    if streamed:
        with client.messages.stream(**request) as stream:
            message = stream.get_final_message()
    else:
        message = client.messages.create(**request)
    [tool] = [block for block in message.content if block.type == "tool_use"]
    return tool.input


@pytest.mark.parametrize("streamed", [False, True])
def test_an_edit_and_a_write_of_personal_data_leave_the_real_values_on_disk(proxy, provider, received, tmp_path, streamed):
    rows = customer_rows(3)
    target = tmp_path / "customers.csv"
    target.write_text(csv_text(rows))
    line = ",".join(rows[1])
    messages = [
        {"role": "user", "content": "Mark Omar's row as checked."},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_read", "name": "Read",
                                           "input": {"file_path": str(target)}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_read", "content": target.read_text()},
                                     {"type": "text", "text": line}]},
    ]
    client = anthropic_client(proxy, provider)

    edit = tool_input(client, "echo-edit", messages, streamed)
    upstream = received[-1].text
    assert "[[pii:EMAIL_ADDRESS:" in upstream and rows[1][1] not in upstream and rows[1][2] not in upstream
    apply_edit(target, edit)
    assert target.read_text() == csv_text(rows).replace(line, line + " (checked)")

    write = tool_input(client, "echo-tool", messages, streamed)
    target.write_text(write["content"])
    assert target.read_text() == line
    assert not re.search(r"\[\[\w+:", target.read_text())


@pytest.fixture(scope="module")
def proxy_without_pii_tool_restore(tmp_path_factory, provider, test_ca):
    """A tenant that redacts personal data but turned off restoring it in tool arguments."""
    from llm_dlp.testing.proxyrun import REPO, copy_policies, start_proxy

    workdir = tmp_path_factory.mktemp("no-pii-restore")
    text = (REPO / "policies" / "default.yaml").read_text().replace("  pii: [tool_arguments]", "  pii: [text]")
    running = start_proxy(workdir, intercept=[f"localhost:{provider.port}"], upstream_ca=test_ca.cert_path,
                          policy_dir=copy_policies(workdir / "policies", default=text))
    yield running
    running.stop()


@pytest.mark.parametrize("streamed", [False, True])
def test_a_tool_call_the_policy_will_not_restore_is_answered_with_a_notice(proxy_without_pii_tool_restore, provider,
                                                                          received, streamed):
    rows = customer_rows(2)
    client = anthropic_client(proxy_without_pii_tool_restore, provider)
    request = dict(model="echo-edit", max_tokens=200, messages=[{"role": "user", "content": ",".join(rows[0])}])
    if streamed:
        with client.messages.stream(**request) as stream:
            message = stream.get_final_message()
    else:
        message = client.messages.create(**request)
    assert "[[pii:EMAIL_ADDRESS:" in received[-1].text
    assert [block.type for block in message.content] == ["thinking", "text"]  # no Edit to run
    assert message.content[1].text.startswith("[llm-dlp held back this Edit tool call: its arguments carry placeholders for pii")
    assert message.stop_reason == "end_turn"
