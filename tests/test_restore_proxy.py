"""Through the real proxy, with the official SDKs: the provider never sees the values, the client does.

The stand-in's ``echo`` models answer with the prompt exactly as it arrived upstream (redacted),
so every placeholder the proxy made comes back in the answer, streamed a few characters per
event, and must reach the client as the original value wherever the policy restores it.
"""

from __future__ import annotations

import json
import shutil
import time

import anthropic
import openai
import pytest

from llm_dlp.testing import secrets_factory as make
from llm_dlp.testing.proxyrun import REPO, copy_policies, start_proxy
from tests.test_vault import running_redis


def anthropic_client(proxy, provider) -> anthropic.Anthropic:
    http_client = anthropic.DefaultHttpxClient(proxy=proxy.url, verify=proxy.ssl_context())
    return anthropic.Anthropic(api_key="sk-ant-test", base_url=provider.base_url, max_retries=0, http_client=http_client)


def openai_client(proxy, provider) -> openai.OpenAI:
    http_client = openai.DefaultHttpxClient(proxy=proxy.url, verify=proxy.ssl_context())
    return openai.OpenAI(api_key="test-key", base_url=f"{provider.base_url}/v1", max_retries=0, http_client=http_client)


def secret_prompt() -> tuple[str, list[str]]:
    key_id, token = make.aws_access_key_id(), make.github_pat()
    return f"Deploy with {key_id} — then export GITHUB_TOKEN={token} (日本語 ok)", [key_id, token]


def assert_never_upstream(received, values: list[str]) -> None:
    assert received, "the request did not reach the provider"
    for item in received:
        for value in values:
            assert value not in item.text
    assert "[[secret:" in received[-1].text


def test_anthropic_json_answer_is_restored(proxy, provider, received):
    prompt, values = secret_prompt()
    reply = anthropic_client(proxy, provider).messages.create(
        model="echo", max_tokens=100, messages=[{"role": "user", "content": prompt}])
    assert_never_upstream(received, values)
    thinking, text = reply.content
    assert text.text == prompt
    assert thinking.thinking == received[0].json()["messages"][0]["content"]  # signed: untouched


def test_anthropic_stream_is_restored(proxy, provider, received):
    prompt, values = secret_prompt()
    with anthropic_client(proxy, provider).messages.stream(
        model="echo", max_tokens=100, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == prompt
    assert final.content[0].thinking == received[0].json()["messages"][0]["content"]
    assert_never_upstream(received, values)


@pytest.mark.parametrize("streamed", [False, True])
def test_anthropic_tool_input_is_restored(proxy, provider, received, streamed):
    prompt, values = secret_prompt()
    client = anthropic_client(proxy, provider)
    request = dict(model="echo-tool", max_tokens=100, messages=[{"role": "user", "content": prompt}])
    if streamed:
        with client.messages.stream(**request) as stream:
            message = stream.get_final_message()
    else:
        message = client.messages.create(**request)
    assert message.content[1].input == {"file_path": "/tmp/echo.txt", "content": prompt}
    assert_never_upstream(received, values)


@pytest.mark.parametrize("streamed", [False, True])
def test_openai_content_is_restored(proxy, provider, received, streamed):
    prompt, values = secret_prompt()
    client = openai_client(proxy, provider)
    messages = [{"role": "user", "content": prompt}]
    if streamed:
        chunks = client.chat.completions.create(model="echo", messages=messages, stream=True)
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    else:
        text = client.chat.completions.create(model="echo", messages=messages).choices[0].message.content
    assert text == prompt
    assert_never_upstream(received, values)


@pytest.mark.parametrize("streamed", [False, True])
def test_openai_tool_arguments_are_restored(proxy, provider, received, streamed):
    prompt, values = secret_prompt()
    client = openai_client(proxy, provider)
    messages = [{"role": "user", "content": prompt}]
    if streamed:
        with client.chat.completions.stream(model="echo-tool", messages=messages) as stream:
            completion = stream.get_final_completion()
    else:
        completion = client.chat.completions.create(model="echo-tool", messages=messages)
    arguments = completion.choices[0].message.tool_calls[0].function.arguments
    assert json.loads(arguments) == {"file_path": "/tmp/echo.txt", "content": prompt}
    assert_never_upstream(received, values)


def test_next_turn_extends_the_previous_redacted_body_byte_for_byte(proxy, provider, received):
    """Stable placeholders: turn 2's body starts with turn 1's messages, so prompt caching holds."""
    prompt, values = secret_prompt()
    client = anthropic_client(proxy, provider)
    system = [{"type": "text", "text": "You are a coding agent.", "cache_control": {"type": "ephemeral"}}]
    history = [{"role": "user", "content": prompt}]
    first = client.messages.create(model="echo", max_tokens=100, system=system, messages=history)
    thinking = first.content[0]
    history += [{"role": "assistant", "content": [
                    {"type": "thinking", "thinking": thinking.thinking, "signature": thinking.signature},
                    {"type": "text", "text": first.content[1].text}]},
                {"role": "user", "content": f"And rotate {values[0]} tomorrow."}]
    client.messages.create(model="echo", max_tokens=100, system=system, messages=history)
    turn1, turn2 = received[0].body, received[1].body
    assert_never_upstream(received, values)
    # Everything of turn 1 up to the end of its last message is where turn 2 begins.
    prefix = turn1[: turn1.index(b"}]", turn1.index(b'"messages"')) + 1]
    assert turn2.startswith(prefix)
    # Round trip: the history the client sent back redacts to exactly what the model produced.
    produced = received[0].json()["messages"][0]["content"]
    thinking_back, text_back = received[1].json()["messages"][1]["content"]
    assert text_back["text"] == produced
    assert thinking_back == {"type": "thinking", "thinking": produced, "signature": "c2lnbmVk"}  # untouched both ways


def test_two_proxies_sharing_redis_restore_each_others_placeholders(tmp_path, provider, test_ca, received):
    """Also per policy: this tenant restores e-mail addresses in text, never in tool arguments
    (a tool call carrying one is held back)."""
    policy = (REPO / "policies" / "default.yaml").read_text()
    policy = policy.replace("  pii: [tool_arguments]", "  pii: [text]")  # the default redacts personal data
    assert "pii: [text]" in policy
    policies = copy_policies(tmp_path / "policies", default=policy)
    with running_redis(tmp_path / "redis") as redis_url:
        proxies = []
        try:
            for name in ("a", "b"):
                confdir = tmp_path / name / "certs"
                if proxies:  # instances that share a vault share the deployment key (it makes the placeholders)
                    confdir.mkdir(parents=True)
                    shutil.copy(proxies[0].confdir / "llm-dlp-hmac.key", confdir / "llm-dlp-hmac.key")
                proxies.append(start_proxy(tmp_path / name, intercept=[f"localhost:{provider.port}"],
                                           upstream_ca=test_ca.cert_path, policy_dir=policies,
                                           extra_args=["--vault", redis_url]))
            a, b = proxies
            key_id, mail = make.aws_access_key_id(), "jane.doe@example.com"
            prompt = f"key {key_id} for jane ({mail})"
            anthropic_client(a, provider).messages.create(
                model="claude-test", max_tokens=10, messages=[{"role": "user", "content": prompt}])
            redacted = received[0].json()["messages"][0]["content"]
            assert key_id not in redacted and mail not in redacted and "[[pii:" in redacted
            # Instance b never saw these values: the history carries only a's placeholders.
            with anthropic_client(b, provider).messages.stream(
                model="echo", max_tokens=10, messages=[{"role": "user", "content": redacted}]
            ) as stream:
                text = "".join(stream.text_stream)
            assert text == prompt
            key_only = redacted.split(" for ")[0]
            tool = openai_client(b, provider).chat.completions.create(
                model="echo-tool", messages=[{"role": "user", "content": key_only}]).choices[0].message.tool_calls[0]
            assert json.loads(tool.function.arguments)["content"] == f"key {key_id}"
            # The e-mail placeholder may not go back into tool arguments here: the call is held back.
            held = openai_client(b, provider).chat.completions.create(
                model="echo-tool", messages=[{"role": "user", "content": redacted}]).choices[0]
            assert held.message.tool_calls is None and held.finish_reason == "stop"
            assert held.message.content.startswith("[llm-dlp held back this ") and "[[pii:" not in held.message.content
            assert all(key_id not in item.text and mail not in item.text for item in received)
        finally:
            for running in proxies:
                running.stop()


def test_what_was_put_back_is_audited_after_the_answer(proxy, provider, received):
    prompt, values = secret_prompt()
    with anthropic_client(proxy, provider).messages.stream(
        model="echo", max_tokens=100, messages=[{"role": "user", "content": prompt}]
    ) as stream:
        assert "".join(stream.text_stream) == prompt
    decision = next(line for line in reversed(proxy.audit_lines()) if line["event"] == "dlp.decision")
    deadline = time.monotonic() + 10  # written when the proxy has sent the last byte, not before
    while time.monotonic() < deadline:
        restores = [line for line in proxy.audit_lines() if line["event"] == "dlp.restore"
                    and line["request_id"] == decision["request_id"]]
        if restores:
            break
        time.sleep(0.05)
    [line] = restores
    # The thinking block echoes the placeholders too but is never restored: two in the text.
    assert line["restored"] == {"secret": 2} and line["kept_out"] == {} and "withheld" not in line
    assert line["tenant"] == decision["tenant"] and line["path"] == "/v1/messages"
    raw = proxy.audit_path.read_text()
    assert all(value not in raw for value in values)
