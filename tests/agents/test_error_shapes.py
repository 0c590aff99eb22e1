"""The proxy's own answers, per API format: the shape each client shows as the message and does
not retry (measured with the real CLIs in test_cli_blocks.py; here the shapes themselves and the
official Python SDKs, which really parse them)."""

from __future__ import annotations

import json

import anthropic
import httpx
import httpx2  # the anthropic SDK's own fork of httpx
import openai
import pytest

from llm_dlp.providers import error_response

MESSAGE = "llm-dlp blocked this request under policy 'default': secret 'private-key' at $.messages[3].content"
ANTHROPIC, RESPONSES, CHAT = "/v1/messages?beta=true", "/v1/responses", "/v1/chat/completions"
GEMINI = "/v1beta/models/gemini-test:streamGenerateContent?alt=sse"


def test_anthropic_block_is_a_403_claude_code_reads_as_a_dlp_denial():
    answer = error_response("anthropic", ANTHROPIC, 403, MESSAGE)
    body = json.loads(answer.body)
    assert answer.status == 403
    assert body == {"type": "error", "error": {"type": "permission_error", "message": MESSAGE,
                                               "details": {"error_code": "dlp_request_denied"}}}
    assert answer.headers["x-should-retry"] == "false"


@pytest.mark.parametrize("status", [400, 413, 415])
def test_every_anthropic_refusal_of_a_body_carries_the_dlp_code(status):
    # Without it Claude Code re-sends a 400 five more times with fewer betas.
    answer = error_response("anthropic", "/v1/messages", status, "unreadable")
    assert answer.status == status
    assert json.loads(answer.body)["error"]["details"] == {"error_code": "dlp_request_denied"}


def test_anthropic_proxy_failures_are_not_dressed_as_policy_denials():
    answer = error_response("anthropic", "/v1/messages", 500, "internal error")
    assert answer.status == 500 and "details" not in json.loads(answer.body)["error"]


@pytest.mark.parametrize("status", [400, 403, 413, 415])
def test_responses_refusals_are_400_invalid_prompt_which_codex_does_not_retry(status):
    answer = error_response("openai", RESPONSES, status, MESSAGE)
    assert answer.status == 400
    assert json.loads(answer.body) == {"error": {"message": MESSAGE, "type": "invalid_request_error",
                                                 "param": None, "code": "invalid_prompt"}}


def test_refused_websocket_upgrade_on_responses_is_426_so_codex_falls_back_to_https():
    answer = error_response("openai", RESPONSES, 403, "llm-dlp does not inspect WebSocket traffic", method="GET")
    assert answer.status == 426
    assert json.loads(answer.body)["error"]["message"] == "llm-dlp does not inspect WebSocket traffic"


@pytest.mark.parametrize("status", [500, 504])
def test_responses_proxy_failures_keep_their_status(status):
    assert error_response("openai", RESPONSES, status, "x").status == status


def test_chat_completions_block_stays_403_permission_error():
    answer = error_response("openai", CHAT, 403, MESSAGE)
    assert answer.status == 403
    assert json.loads(answer.body)["error"] == {"message": MESSAGE, "type": "permission_error", "param": None,
                                                "code": "llm_dlp_blocked"}


def test_gemini_block_is_google_rpc_status_with_an_error_info_naming_llm_dlp():
    answer = error_response("gemini", GEMINI, 403, MESSAGE)
    error = json.loads(answer.body)["error"]
    assert answer.status == 403
    assert (error["code"], error["message"], error["status"]) == (403, MESSAGE, "PERMISSION_DENIED")
    assert error["details"] == [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "DLP_REQUEST_DENIED",
                                 "domain": "llm-dlp", "metadata": {}}]


def test_the_format_follows_the_path_not_the_host():
    # DeepSeek and Moonshot serve Anthropic's format; a gateway may serve Responses.
    assert json.loads(error_response("deepseek", "/anthropic/v1/messages", 403, "x").body)["type"] == "error"
    assert error_response("gateway", "/openai/v1/responses", 403, "x").status == 400


# -- the official SDKs, against the answers themselves ------------------------------------------

def _transport(http, path: str, status: int, calls: list):
    """A transport of ``http`` (httpx or httpx2) that answers every request as the proxy would."""
    def handle(request):
        calls.append(request)
        answer = error_response("any", path, status, MESSAGE, method=request.method)
        return http.Response(answer.status, content=answer.body, headers=answer.headers)
    return http.MockTransport(handle)


@pytest.mark.parametrize(("status", "raised"), [(403, anthropic.PermissionDeniedError),
                                                (500, anthropic.InternalServerError)])
def test_anthropic_sdk_raises_with_the_message_and_does_not_retry(status, raised):
    calls: list = []
    transport = _transport(httpx2, "/v1/messages", status, calls)
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url="https://api.anthropic.test",  # default retries
                                 http_client=httpx2.Client(transport=transport))
    with pytest.raises(raised) as caught:
        client.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}])
    assert len(calls) == 1
    assert MESSAGE in str(caught.value)


@pytest.mark.parametrize(("path", "status", "raised"), [
    (RESPONSES, 403, openai.BadRequestError),
    (CHAT, 403, openai.PermissionDeniedError),
    (CHAT, 500, openai.InternalServerError),
])
def test_openai_sdk_raises_with_the_message_and_does_not_retry(path, status, raised):
    calls: list = []
    client = openai.OpenAI(api_key="sk-test", base_url="https://api.openai.test/v1",  # default retries
                           http_client=httpx.Client(transport=_transport(httpx, path, status, calls)))
    with pytest.raises(raised) as caught:
        if path == RESPONSES:
            client.responses.create(model="m", input="hi")
        else:
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert len(calls) == 1
    assert MESSAGE in str(caught.value)
