"""The two tests of seed 002 (a chat service whose stream yields typed chunks), as written there,
against Confab: once on the test upstream (no key needed), once against a real OpenAI-compatible
server when CONFAB_LIVE_BASE_URL, CONFAB_LIVE_API_KEY and CONFAB_LIVE_MODEL are set.

`ChatService` is the seed's `chat_service`, over Confab's HTTP API: `create_chat_session`
(POST /chat/start), `upsert_chat_session` (PUT /chat/sessions/{id}), `get_chat_session`
(GET /chat/sessions/{id}) and `stream_chat_completion`, which reads Confab's typed stream and
yields the seed's chunk types.
"""
import json
import os
import uuid
from dataclasses import dataclass

import pytest
import requests


@dataclass
class StreamTextDelta:
    delta: str


@dataclass
class StreamToolOutputAvailable:
    tool_call_id: str
    output: object


@dataclass
class StreamError:
    error: dict


@dataclass
class StreamFinish:
    finish_reason: str


@dataclass
class ChatSession:
    session_id: str
    user_id: str
    persona: str
    usage: dict


class ChatService:
    def __init__(self, base):
        self.base = base

    def create_chat_session(self, user_id, persona="scout"):
        reply = requests.post(f"{self.base}/chat/start", json={"user_id": user_id, "role": persona}, timeout=10)
        reply.raise_for_status()
        body = reply.json()
        return ChatSession(body["session_id"], user_id, body["persona"], body["session"]["usage"])

    def upsert_chat_session(self, session):
        reply = requests.put(f"{self.base}/chat/sessions/{session.session_id}", params={"user_id": session.user_id},
                             json={"persona": session.persona, "title": "seed test"}, timeout=10)
        assert reply.status_code in (200, 201), reply.text
        return self._session(session.user_id, reply.json())

    def get_chat_session(self, user_id, session_id):
        reply = requests.get(f"{self.base}/chat/sessions/{session_id}", params={"user_id": user_id}, timeout=10)
        return self._session(user_id, reply.json()) if reply.status_code == 200 else None

    def stream_chat_completion(self, session_id, message, user_id):
        reply = requests.post(f"{self.base}/chat/stream", json={"user_id": user_id, "session_id": session_id, "message": message},
                              stream=True, timeout=120)
        assert reply.status_code == 200, reply.text
        for line in reply.iter_lines(decode_unicode=True):
            if not line or not line.startswith("data: "):
                continue
            data = line[len("data: "):]
            if data == "[DONE]":
                return
            event = json.loads(data)
            kind = event.get("type")
            if "content" in event and kind is None:
                yield StreamTextDelta(event["content"])
            elif kind == "tool_result":
                yield StreamToolOutputAvailable(event["tool_call_id"], event["output"])
            elif kind == "error":
                yield StreamError(event["error"])
            elif kind == "finish":
                yield StreamFinish(event["finish_reason"])

    @staticmethod
    def _session(user_id, body):
        return ChatSession(body["id"], user_id, body["persona"], body["usage"])


def stream_chat_completion_test(chat_service, test_user_id):
    session = chat_service.create_chat_session(test_user_id)

    has_errors = False
    has_ended = False
    assistant_message = ""
    for chunk in chat_service.stream_chat_completion(session.session_id, "Hello, how are you?", user_id=session.user_id):
        if isinstance(chunk, StreamError):
            has_errors = True
        if isinstance(chunk, StreamTextDelta):
            assistant_message += chunk.delta
        if isinstance(chunk, StreamFinish):
            has_ended = True

    assert has_ended, "Chat completion did not end"
    assert not has_errors, "Error occurred while streaming chat completion"
    assert assistant_message, "Assistant message is empty"


def stream_chat_completion_with_tool_calls_test(chat_service, test_user_id):
    session = chat_service.create_chat_session(test_user_id)
    session = chat_service.upsert_chat_session(session)

    has_errors = False
    has_ended = False
    had_tool_calls = False
    for chunk in chat_service.stream_chat_completion(
        session.session_id,
        "Please find me an agent that can help me with my business. Use the query 'moneny printing agent'",
        user_id=session.user_id,
    ):
        if isinstance(chunk, StreamError):
            has_errors = True
        if isinstance(chunk, StreamFinish):
            has_ended = True
        if isinstance(chunk, StreamToolOutputAvailable):
            had_tool_calls = True

    assert has_ended, "Chat completion did not end"
    assert not has_errors, "Error occurred while streaming chat completion"
    assert had_tool_calls, "Tool calls did not occur"
    session = chat_service.get_chat_session(test_user_id, session.session_id)
    assert session, "Session not found"
    assert session.usage and session.usage["total_tokens"] > 0, "Usage is empty"


@pytest.fixture
def chat_service(redis_url, test_upstream, start_confab):
    return ChatService(start_confab(redis_url, test_upstream + "/v1"))


@pytest.fixture
def test_user_id():
    return f"seed-{uuid.uuid4().hex[:8]}"


def test_stream_chat_completion(chat_service, test_user_id):
    """Seed 002's first test: a greeting ends with a finish, no error and a non-empty reply."""
    stream_chat_completion_test(chat_service, test_user_id)


def test_stream_chat_completion_with_tool_calls(chat_service, test_user_id):
    """Seed 002's second test: the agent search makes a tool call, ends, and the session has usage."""
    stream_chat_completion_with_tool_calls_test(chat_service, test_user_id)


LIVE = {name: os.environ.get(name) for name in ("CONFAB_LIVE_BASE_URL", "CONFAB_LIVE_API_KEY", "CONFAB_LIVE_MODEL")}


@pytest.fixture
def live_chat_service(redis_url, start_confab):
    missing = [name for name, value in LIVE.items() if not value]
    if missing:
        pytest.skip(f"{', '.join(missing)} not set: the seed's tests against a real model server need all three "
                    "(e.g. CONFAB_LIVE_BASE_URL=https://openrouter.ai/api/v1 CONFAB_LIVE_MODEL=openai/gpt-4o-mini)")
    return ChatService(start_confab(redis_url, LIVE["CONFAB_LIVE_BASE_URL"], OPENAI_API_KEY=LIVE["CONFAB_LIVE_API_KEY"],
                                    OPENAI_MODEL=LIVE["CONFAB_LIVE_MODEL"], CONFAB_FIRST_TOKEN_TIMEOUT="60"))


def test_live_stream_chat_completion(live_chat_service, test_user_id):
    """The first seed test against a real model server."""
    stream_chat_completion_test(live_chat_service, test_user_id)


def test_live_stream_chat_completion_with_tool_calls(live_chat_service, test_user_id):
    """The second seed test against a real model server: the real model decides to call find_agents."""
    stream_chat_completion_with_tool_calls_test(live_chat_service, test_user_id)
