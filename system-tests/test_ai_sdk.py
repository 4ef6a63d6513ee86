"""Confab as a Vercel AI SDK backend: useChat's `POST /api/chat`, its resume request, the
`format=ai-sdk` variant of `/chat/stream`, and `PUT/GET /chat/sessions/{id}`.

Every stream is checked strictly (ui_message_stream.py: what ai 5.0.92-5.0.216 and 6.0.0-6.0.230
accept, plus Confab's own promises) against a real Confab, Redis and the test upstream.
"""
import json
import secrets
import string
import uuid

import pytest
import requests

from ui_message_stream import check_confab_shape, parse_sse, steps_of, text_of, validate

# --- Assumptions the spec leaves open: change them here ------------------------------------------
# The model server for every test here (a conftest fixture name). The tool test assumes it answers a
# request that offers `find_agents` by calling it with the query quoted in the message, and then,
# given the tool result, with text.
UPSTREAM_FIXTURE = "test_upstream"
# Extra settings for Confab in these tests (e.g. where scout's find_agents looks for agents).
CONFAB_SETTINGS = {}
TOOL_PERSONA, TOOL_NAME = "scout", "find_agents"
TOOL_MESSAGE = "Please find me an agent that can help me with my business. Use the query 'moneny printing agent'"
TOOL_INPUT = {"query": "moneny printing agent"}
# The stored assistant message has the id the stream announced in `start.messageId`, so a page that
# reloads the history sees the same message ids useChat has on screen.
HISTORY_ID_IS_START_MESSAGE_ID = True
# `GET /chat/sessions/{id}` answers the session object itself (as in the list), not {"session": ...}.
SESSION_FIELDS = ("id", "title", "persona", "created_at", "updated_at", "message_count", "usage")
# The old `/chat/stream` format: the spec says every event other than the first and the text ones has
# a `type`. Today's finish event (`{"finish_reason", "status", ...}`) has none; False exempts it.
LEGACY_FINISH_HAS_TYPE = True

HELLO = "Hello, how are you?"
TIMEOUT = 60


@pytest.fixture
def confab(redis_url, start_confab, request):
    return start_confab(redis_url, request.getfixturevalue(UPSTREAM_FIXTURE) + "/v1", **CONFAB_SETTINGS)


def new_chat_id():
    """An id as useChat's generateId makes it: 16 letters and digits."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))


def user_message(text):
    return {"id": new_chat_id(), "role": "user", "parts": [{"type": "text", "text": text}]}


def assistant_message(chunks):
    """The assistant message useChat builds from a stream, as it sends it back next time."""
    return {"id": chunks[0]["messageId"], "role": "assistant",
            "parts": [{"type": "step-start"}, {"type": "text", "text": text_of(chunks), "state": "done"}]}


def post_chat(base, user, chat, messages, **extra):
    """useChat's default request: `{id, messages, trigger}` plus any body fields."""
    body = {"id": chat, "messages": messages, "trigger": "submit-message", **extra}
    return requests.post(f"{base}/api/chat", params={"user_id": user}, json=body, timeout=TIMEOUT)


def ui_stream(response):
    """The response as a strictly valid UI message stream that keeps Confab's promises: its chunks."""
    assert response.status_code == 200, response.text[:500]
    assert response.headers.get("x-vercel-ai-ui-message-stream") == "v1"
    assert response.headers.get("content-type", "").split(";")[0].strip() == "text/event-stream"
    chunks = validate(parse_sse(response.content))
    check_confab_shape(chunks)
    return chunks


def of_type(chunks, kind):
    return [c for c in chunks if c["type"] == kind]


def only(items, what):
    assert len(items) == 1, f"expected one {what}, got {items}"
    return items[0]


def history(base, user, session):
    response = requests.get(f"{base}/chat/history", params={"user_id": user, "session_id": session}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def sessions(base, user):
    response = requests.get(f"{base}/chat/sessions", params={"user_id": user}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def get_session(base, user, session):
    return requests.get(f"{base}/chat/sessions/{session}", params={"user_id": user}, timeout=10)


def assert_json_error(response):
    """A refused request: 4xx with `{"error": {"message", "type", "code"}}`."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    error = response.json()["error"]
    for key in ("message", "type", "code"):
        assert isinstance(error.get(key), str) and error[key], error


def assert_a_complete_text_reply(chunks):
    types = [c["type"] for c in chunks]
    for kind in ("start", "start-step", "text-start", "text-delta", "text-end", "finish-step", "finish"):
        assert kind in types, types
    assert "error" not in types, chunks
    assert chunks[-1].get("finishReason") == "stop", chunks[-1]
    assert text_of(chunks).strip(), "the reply has text"


# --- POST /api/chat ------------------------------------------------------------------------------

def test_use_chat_gets_a_streamed_reply_that_is_saved(confab, user_id):
    """A user sends "Hello, how are you?" from a useChat page: the reply streams in as one text part,
    the chat ends `ready`, and reloading the history shows both messages."""
    chat = new_chat_id()
    chunks = ui_stream(post_chat(confab, user_id, chat, [user_message(HELLO)]))
    assert_a_complete_text_reply(chunks)

    messages = history(confab, user_id, chat)["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [("user", HELLO), ("assistant", text_of(chunks))]
    if HISTORY_ID_IS_START_MESSAGE_ID:
        assert messages[1]["id"] == chunks[0]["messageId"]


def test_scout_calls_find_agents_and_answers(confab, user_id):
    """With the scout persona, asking for an agent shows a find_agents call with the user's query,
    its result (a list of agents), then an answer in a second step; the session counts the tokens."""
    chat = new_chat_id()
    chunks = ui_stream(post_chat(confab, user_id, chat, [user_message(TOOL_MESSAGE)], persona=TOOL_PERSONA))
    assert not of_type(chunks, "error"), chunks
    steps = steps_of(chunks)
    assert len(steps) == 2, [[c["type"] for c in s] for s in steps]

    start = only(of_type(steps[0], "tool-input-start"), "tool-input-start in step 1")
    assert start["toolName"] == TOOL_NAME
    call = start["toolCallId"]
    available = only([c for c in of_type(steps[0], "tool-input-available") if c["toolCallId"] == call],
                     "tool-input-available for the call in step 1")
    assert (available["toolName"], available["input"]) == (TOOL_NAME, TOOL_INPUT)
    output = only([c for c in of_type(chunks, "tool-output-available") if c["toolCallId"] == call],
                  "tool-output-available for the call")
    assert isinstance(output["output"], dict) and isinstance(output["output"].get("agents"), list), output
    assert text_of(steps[1]).strip(), "the second step answers in text"

    response = get_session(confab, user_id, chat)
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["total_tokens"] > 0


def test_the_next_message_continues_the_same_chat(confab, user_id):
    """useChat sends the whole conversation each time; only the new user message is stored, so the
    history grows by the new question and its answer, in the same session."""
    chat, first = new_chat_id(), user_message(HELLO)
    chunks = ui_stream(post_chat(confab, user_id, chat, [first]))
    before = history(confab, user_id, chat)["messages"]
    assert len(before) == 2

    second = user_message("And what can you do?")
    again = ui_stream(post_chat(confab, user_id, chat, [first, assistant_message(chunks), second]))
    assert_a_complete_text_reply(again)
    assert again[0]["messageId"] != chunks[0]["messageId"]
    messages = history(confab, user_id, chat)["messages"]
    assert messages[:2] == before
    assert [(m["role"], m["content"]) for m in messages[2:]] == [("user", "And what can you do?"),
                                                                 ("assistant", text_of(again))]
    listed = sessions(confab, user_id)
    assert [s["id"] for s in listed["sessions"]] == [chat]


def bad_requests():
    """(name, kwargs for requests.post given the user and an existing chat id) that must be refused."""
    def body(chat, **fields):
        return {"json": {"id": chat, "messages": [user_message("Hi")], "trigger": "submit-message", **fields}}
    assistant = {"id": "a1", "role": "assistant", "parts": [{"type": "text", "text": "Hello"}]}
    return {
        "not JSON": lambda chat: {"data": b'{"id": ', "headers": {"content-type": "application/json"}},
        "messages missing": lambda chat: {"json": {"id": chat, "trigger": "submit-message"}},
        "messages not a list": lambda chat: body(chat, messages={"0": user_message("Hi")}),
        "messages empty": lambda chat: body(chat, messages=[]),
        "last message not from the user": lambda chat: body(chat, messages=[user_message("Hi"), assistant]),
        "user message without a text part": lambda chat: body(
            chat, messages=[{"id": "u1", "role": "user", "parts": []}]),
        "chat id with a path": lambda chat: body("../x"),
        "chat id of 200 characters": lambda chat: body("a" * 200),
        "unknown persona": lambda chat: body(new_chat_id(), persona="no-such-persona"),
        "missing user_id": lambda chat: {**body(chat), "params": {}},
    }


@pytest.mark.parametrize("make", bad_requests().values(), ids=bad_requests().keys())
def test_a_bad_request_is_refused_and_writes_nothing(confab, user_id, make):
    """A malformed request gets a JSON error the page can show, and leaves the user's chats as
    they were (here: one existing chat, which the bad request names where it names a chat)."""
    chat = new_chat_id()
    ui_stream(post_chat(confab, user_id, chat, [user_message(HELLO)]))
    listed, messages = sessions(confab, user_id), history(confab, user_id, chat)

    request = {"params": {"user_id": user_id}, "timeout": TIMEOUT, **make(chat)}
    assert_json_error(requests.post(f"{confab}/api/chat", **request))
    assert sessions(confab, user_id) == listed
    assert history(confab, user_id, chat) == messages


def test_resume_finds_nothing_to_resume(confab, user_id):
    """useChat({resume: true}) on page load asks for a running reply; there is none, so it gets 204
    and the chat stays `ready`, for a finished chat and for one never used."""
    chat = new_chat_id()
    ui_stream(post_chat(confab, user_id, chat, [user_message(HELLO)]))
    for id_ in (chat, new_chat_id()):
        response = requests.get(f"{confab}/api/chat/{id_}/stream", params={"user_id": user_id}, timeout=10)
        assert response.status_code == 204, response.text
        assert response.content == b""


# --- GET /chat/stream ----------------------------------------------------------------------------

def start_session(base, user):
    response = requests.post(f"{base}/chat/start", json={"user_id": user}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["session_id"]


def test_chat_stream_speaks_the_ai_sdk_protocol_on_request(confab, user_id):
    """`/chat/stream?format=ai-sdk` gives the same stream as /api/chat, for AI SDK readers of a session."""
    session = start_session(confab, user_id)
    params = {"user_id": user_id, "session_id": session, "message": HELLO, "format": "ai-sdk"}
    chunks = ui_stream(requests.get(f"{confab}/chat/stream", params=params, timeout=TIMEOUT))
    assert_a_complete_text_reply(chunks)
    assert history(confab, user_id, session)["messages"][-1]["content"] == text_of(chunks)


def test_chat_stream_keeps_its_own_format_by_default(confab, user_id):
    """Without `format`, the page's EventSource gets the old events: ids first, `{"content"}` text,
    typed events otherwise, then [DONE]."""
    session = start_session(confab, user_id)
    params = {"user_id": user_id, "session_id": session, "message": HELLO}
    response = requests.get(f"{confab}/chat/stream", params=params, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert "x-vercel-ai-ui-message-stream" not in response.headers
    payloads = parse_sse(response.content)
    assert payloads[-1] == "[DONE]" and payloads.count("[DONE]") == 1
    first, *events = [json.loads(p) for p in payloads[:-1]]
    assert {"session_id", "message_id"} <= first.keys(), first
    texts = [e for e in events if "content" in e]
    assert texts and all(set(e) == {"content"} and isinstance(e["content"], str) for e in texts), texts
    others = [e for e in events if "content" not in e and (LEGACY_FINISH_HAS_TYPE or "finish_reason" not in e)]
    assert all(isinstance(e.get("type"), str) for e in others), others


# --- PUT / GET /chat/sessions/{id} -----------------------------------------------------------------

def put_session(base, user, session, **request):
    return requests.put(f"{base}/chat/sessions/{session}", params={"user_id": user}, timeout=10, **request)


def test_put_creates_then_updates_a_session(confab, user_id):
    """A client creates a session with its own id (201), renames it (200), reads it back with its
    usage, and sees it in the list; another user cannot see it."""
    session = str(uuid.uuid4())
    created = put_session(confab, user_id, session, json={"title": "T", "persona": "teacher"})
    assert created.status_code == 201, created.text
    assert [created.json()[k] for k in ("id", "title", "persona")] == [session, "T", "teacher"]

    updated = put_session(confab, user_id, session, json={"title": "T2", "persona": "programmer"})
    assert updated.status_code == 200, updated.text
    assert [updated.json()[k] for k in ("id", "title", "persona")] == [session, "T2", "programmer"]

    fetched = get_session(confab, user_id, session)
    assert fetched.status_code == 200, fetched.text
    assert set(SESSION_FIELDS) <= fetched.json().keys(), fetched.json()
    assert [fetched.json()[k] for k in ("id", "title", "persona")] == [session, "T2", "programmer"]
    assert [s["id"] for s in sessions(confab, user_id)["sessions"]] == [session]
    assert get_session(confab, "other-" + user_id, session).status_code == 404


def test_put_ignores_fields_it_does_not_read(confab, user_id):
    """Fields this version does not know are ignored whatever their type, as for POST /chat/start."""
    session = str(uuid.uuid4())
    body = {"title": "T", "persona": "teacher", "pinned": "yes", "tags": {"a": [1]}, "message_count": "many"}
    response = put_session(confab, user_id, session, json=body)
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "T"


@pytest.mark.parametrize("request_", [
    {"json": {"title": 5, "persona": "teacher"}},
    {"json": {"title": ["T"]}},
    {"json": {"title": "T", "persona": "no-such-persona"}},
    {"data": b"{not json", "headers": {"content-type": "application/json"}},
], ids=["title a number", "title a list", "unknown persona", "not JSON"])
def test_put_refuses_a_bad_body_and_writes_nothing(confab, user_id, request_):
    """A bad body gets 400 with a JSON error; a new session is not created and an existing one is
    left as it was."""
    existing = str(uuid.uuid4())
    assert put_session(confab, user_id, existing, json={"title": "Kept", "persona": "teacher"}).status_code == 201
    kept, listed = get_session(confab, user_id, existing).json(), sessions(confab, user_id)

    fresh = str(uuid.uuid4())
    for session in (fresh, existing):
        response = put_session(confab, user_id, session, **request_)
        assert response.status_code == 400, response.text
        assert_json_error(response)
    assert get_session(confab, user_id, fresh).status_code == 404
    assert get_session(confab, user_id, existing).json() == kept
    assert sessions(confab, user_id) == listed
