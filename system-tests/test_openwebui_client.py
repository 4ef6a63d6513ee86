"""Confab's Open WebUI door, driven by the real, unchanged `openwebui-chat-client` (0.1.24).

The client finds or makes a chat by title (`/api/v1/chats/search`, `/new`, `GET /api/v1/chats/{id}`),
sends the whole linear history to `POST /api/chat/completions` (with `chat_id` when not streaming;
the first stream of a chat pads it with 30 placeholder pairs) and stores its chat blob back with
`POST /api/v1/chats/{id}`. Confab keeps every chat as one of its sessions: the messages a turn
added are in `/chat/history`, once each, and the chat is in `/chat/sessions` with its title.

Against a real Confab, Redis and the test upstream, which echoes the last user message
("Echo: <message>") and shows the prompt it was sent at `/requests/last`.
"""
import json
import uuid

import pytest
import requests
from openwebui_chat_client import OpenWebUIClient

from doors import (SETTINGS, TIMEOUT, bearer, echo, history, make_agent, prompt_of, register, said_by, session_ids,
                   sessions, settled_history, upstream_active, upstream_total)

PLACEHOLDER = "PLACEHOLDER_USER_MESSAGE"


@pytest.fixture
def confab(redis_url, test_upstream, start_confab):
    return start_confab(redis_url, test_upstream + "/v1", **SETTINGS)


@pytest.fixture
def key(confab):
    return register(confab)


@pytest.fixture
def client(confab, key):
    return OpenWebUIClient(base_url=confab, token=key, default_model_id="assistant")


def stream_all(generator):
    """Runs a `stream_chat` generator to its end: the tokens it yielded and the value it returned."""
    tokens = []
    while True:
        try:
            tokens.append(next(generator))
        except StopIteration as stop:
            return tokens, stop.value


def chat_blob(base, key, chat_id):
    r = requests.get(f"{base}/api/v1/chats/{chat_id}", headers=bearer(key), timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def linear(blob):
    """The chat's messages along `currentId`, as Open WebUI's page shows them: `(role, content)`."""
    tree = blob["chat"]["history"]
    chain, at = [], tree.get("currentId")
    while at:
        message = tree["messages"][at]
        chain.append((message["role"], message["content"]))
        at = message.get("parentId")
    return chain[::-1]


def assert_detail(response, *statuses):
    """An expected failure in Open WebUI's shape: one of `statuses`, `{"detail": "..."}`."""
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    body = response.json()
    assert isinstance(body.get("detail"), str) and body["detail"], body


# --- Models ----------------------------------------------------------------------------------------

def test_the_model_list_has_every_persona_and_the_users_agents(confab, key):
    agent = make_agent(confab, key, name="Quiz master")
    other = make_agent(confab, register(confab), name="Not yours")
    client = OpenWebUIClient(base_url=confab, token=key, default_model_id="assistant")
    # The constructor already asked for the list (GET /api/models?refresh=true).
    assert {"assistant", "teacher", "programmer", agent["id"]} <= set(client.available_model_ids)
    assert other["id"] not in client.available_model_ids
    models = {m["id"]: m for m in client.list_models()}
    for persona in ("assistant", "teacher", "programmer"):
        assert models[persona]["object"] == "model" and models[persona]["name"], models[persona]
    assert models[agent["id"]]["name"] == "Quiz master", models[agent["id"]]


def test_a_wrong_key_is_refused_at_every_route(confab, key):
    wrong = bearer("cfk_" + "x" * 40)
    chat = requests.post(f"{confab}/api/v1/chats/new", headers=bearer(key), json={"chat": {"title": "Mine"}},
                         timeout=TIMEOUT).json()["id"]
    calls = [("GET", "/api/models", None), ("GET", "/api/v1/chats/list", None), ("GET", "/api/v1/chats/search?text=Mine", None),
             ("POST", "/api/v1/chats/new", {"chat": {"title": "x"}}), ("GET", f"/api/v1/chats/{chat}", None),
             ("DELETE", "/api/v1/chats/", None),
             ("POST", "/api/chat/completions", {"model": "assistant", "messages": [{"role": "user", "content": "hi"}],
                                                "stream": False, "chat_id": chat})]
    for method, path, body in calls:
        for headers in (wrong, {}):
            r = requests.request(method, confab + path, headers=headers, json=body, timeout=TIMEOUT)
            assert r.status_code == 401, (method, path, headers, r.status_code, r.text[:200])
    # The real client with a wrong key gets nothing, and nothing was written or asked of the model.
    stranger = OpenWebUIClient(base_url=confab, token="cfk_" + "y" * 40, default_model_id="assistant")
    assert stranger.available_model_ids == []
    assert stranger.list_chats() is None
    assert stranger.chat("Hello?", "Intruder") is None
    assert [s["title"] for s in sessions(confab, key)] == ["Mine"]
    assert history(confab, key, chat) == []


# --- Chatting with the real client -----------------------------------------------------------------

def test_chat_answers_and_stores_the_turn_in_the_chats_session(confab, key, client, test_upstream):
    result = client.chat("What is 2+2?", "Compat Test")
    assert result is not None, "chat() returned None: see the client's log above"
    assert result["response"] == echo("What is 2+2?")
    chat_id = result["chat_id"]
    # The model saw the persona's system prompt and the question once.
    prompt = prompt_of(test_upstream)
    assert prompt[0][0] == "system" and prompt[1:] == [("user", "What is 2+2?")], prompt
    # Confab stored the turn in the chat's own session...
    assert history(confab, key, chat_id) == [("user", "What is 2+2?"), ("assistant", echo("What is 2+2?"))]
    listed = {s["id"]: s for s in sessions(confab, key)}
    assert list(listed) == [chat_id] and listed[chat_id]["title"] == "Compat Test", listed
    # ...and the client's chat blob is what Open WebUI's page would show.
    blob = chat_blob(confab, key, chat_id)
    assert linear(blob) == [("user", "What is 2+2?"), ("assistant", echo("What is 2+2?"))]


def test_continuing_a_chat_by_title_grows_one_history_without_doubling(confab, key, client, test_upstream):
    questions = ["First question", "Second question", "Third question"]
    ids = []
    for question in questions:
        result = client.chat(question, "Running chat")
        assert result is not None and result["response"] == echo(question), result
        ids.append(result["chat_id"])
    assert len(set(ids)) == 1, f"the same title made several chats: {ids}"
    chat_id = ids[0]
    # The last prompt holds the conversation once, in order.
    prompt = prompt_of(test_upstream)
    assert said_by(prompt, "user") == questions, prompt
    assert said_by(prompt, "assistant") == [echo(q) for q in questions[:2]], prompt
    # Three turns are six stored messages, not more.
    expected = [m for q in questions for m in (("user", q), ("assistant", echo(q)))]
    assert history(confab, key, chat_id) == expected
    assert [(s["id"], s["title"], s["message_count"]) for s in sessions(confab, key)] == [(chat_id, "Running chat", 6)]
    assert linear(chat_blob(confab, key, chat_id)) == expected
    chats = client.list_chats()
    assert [(c["id"], c["title"]) for c in chats] == [(chat_id, "Running chat")]


def test_chat_with_an_agent_as_the_model(confab, key, client, test_upstream):
    agent = make_agent(confab, key, name="Pirate", persona="You are Captain Flint, a test pirate.")
    result = client.chat("Ahoy", "Agent chat", model_id=agent["id"])
    assert result is not None and result["response"] == echo("Ahoy"), result
    prompt = prompt_of(test_upstream)
    assert prompt[0][0] == "system" and "Captain Flint" in prompt[0][1], prompt
    assert history(confab, key, result["chat_id"]) == [("user", "Ahoy"), ("assistant", echo("Ahoy"))]


def test_stream_chat_yields_tokens_and_drops_the_placeholders(confab, key, client, test_upstream):
    tokens, result = stream_all(client.stream_chat("Tell me a story", "Streamed chat", wait_before_request=0))
    assert len(tokens) > 1, f"the reply came in one piece: {tokens}"
    assert "".join(tokens) == echo("Tell me a story") == result["response"]
    # The first stream of a chat sends 30 placeholder pairs before the question; the model never sees them.
    prompt = prompt_of(test_upstream)
    assert prompt[0][0] == "system" and prompt[1:] == [("user", "Tell me a story")], prompt
    # The chat is one of the user's sessions, with its title, and its blob holds the turn.
    chat_id = client.chat_id
    assert [(s["id"], s["title"]) for s in sessions(confab, key)] == [(chat_id, "Streamed chat")]
    first = [("user", "Tell me a story"), ("assistant", echo("Tell me a story"))]
    assert linear(chat_blob(confab, key, chat_id)) == first
    # The streamed turn (the sync client sends no chat_id when streaming) is kept in the chat's session too.
    assert settled_history(confab, key, chat_id, 2) == first
    # A second stream on the same chat carries the first turn, with no placeholders either.
    tokens, _ = stream_all(client.stream_chat("And then?", "Streamed chat", wait_before_request=0))
    assert "".join(tokens) == echo("And then?")
    assert client.chat_id == chat_id
    prompt = prompt_of(test_upstream)
    assert prompt[1:] == [("user", "Tell me a story"), ("assistant", echo("Tell me a story")), ("user", "And then?")], prompt
    assert settled_history(confab, key, chat_id, 4) == first + [("user", "And then?"), ("assistant", echo("And then?"))]
    assert [(s["id"], s["message_count"]) for s in sessions(confab, key)] == [(chat_id, 4)]


def test_stream_chat_delivers_tokens_while_the_model_is_still_talking(confab, key, client, test_upstream):
    # Six pieces a second apart: the first must reach the client while the model still streams
    # (a server that buffers, or a response `requests` holds back, would deliver them all at the end).
    generator = client.stream_chat("Slowly [[tokens=6]] [[delay=1000]]", "Slow chat", wait_before_request=0)
    first = next(generator)
    assert first, first
    assert upstream_active(test_upstream) == 1, "the first token arrived only after the model had finished"
    rest, result = stream_all(generator)
    assert first + "".join(rest) == result["response"] == "Echo: Slowly word1 word2 word3 word4"


def test_a_placeholder_padded_completion_stores_only_the_real_turn(confab, key, test_upstream):
    chat = requests.post(f"{confab}/api/v1/chats/new", headers=bearer(key), json={"chat": {"title": "Padded"}},
                         timeout=TIMEOUT)
    assert 200 <= chat.status_code < 300, chat.text
    chat_id = chat.json()["id"]
    padding = [m for _ in range(30) for m in ({"role": "user", "content": PLACEHOLDER}, {"role": "assistant", "content": ""})]
    body = {"model": "assistant", "messages": padding + [{"role": "user", "content": "Real question"}],
            "stream": False, "chat_id": chat_id, "parent_message": {}}
    r = requests.post(f"{confab}/api/chat/completions", headers=bearer(key), json=body, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == echo("Real question")
    prompt = prompt_of(test_upstream)
    assert prompt[1:] == [("user", "Real question")], prompt
    assert history(confab, key, chat_id) == [("user", "Real question"), ("assistant", echo("Real question"))]


def test_a_streamed_completion_is_chunked_sse_ending_in_done(confab, key):
    body = {"model": "assistant", "messages": [{"role": "user", "content": "Stream please"}], "stream": True}
    with requests.post(f"{confab}/api/chat/completions", headers=bearer(key), json=body, stream=True, timeout=TIMEOUT) as r:
        assert r.status_code == 200, r.text
        assert r.headers.get("content-type", "").startswith("text/event-stream"), r.headers
        assert r.headers.get("transfer-encoding") == "chunked", r.headers
        lines = [line.decode() for line in r.iter_lines() if line]
    data = [line[len("data:"):].strip() for line in lines if line.startswith("data:")]
    assert data[-1] == "[DONE]", lines
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks), chunks
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == echo("Stream please")
    assert any(c["choices"] and c["choices"][0].get("finish_reason") == "stop" for c in chunks), chunks


# --- The chat list ---------------------------------------------------------------------------------

def test_list_search_and_delete_all_chats(confab, key, client):
    assert client.chat("One", "Alpha chat")["response"] == echo("One")
    alpha = client.chat_id
    assert client.chat("Two", "Beta chat")["response"] == echo("Two")
    beta = client.chat_id
    chats = client.list_chats()
    assert {c["id"]: c["title"] for c in chats} == {alpha: "Alpha chat", beta: "Beta chat"}
    for c in chats:
        assert isinstance(c["updated_at"], (int, float)) and isinstance(c["created_at"], (int, float)), c
    assert {c["id"] for c in client.list_chats(page=1)} == {alpha, beta}
    assert client.list_chats(page=2) == []
    found = requests.get(f"{confab}/api/v1/chats/search", headers=bearer(key), params={"text": "Alpha"}, timeout=TIMEOUT)
    assert found.status_code == 200 and [c["id"] for c in found.json()] == [alpha], found.text
    assert set(session_ids(confab, key)) == {alpha, beta}

    assert client.delete_all_chats() is True
    assert client.list_chats() == []
    assert session_ids(confab, key) == [], "a deleted chat is still one of the user's sessions"
    assert_detail(requests.get(f"{confab}/api/v1/chats/{alpha}", headers=bearer(key), timeout=TIMEOUT), 404)


def test_delete_one_chat(confab, key, client):
    client.chat("Keep me", "Keeper")
    keeper = client.chat_id
    client.chat("Drop me", "Dropped")
    dropped = client.chat_id
    r = requests.delete(f"{confab}/api/v1/chats/{dropped}", headers=bearer(key), timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() is True, r.text
    assert [c["id"] for c in client.list_chats()] == [keeper]
    assert session_ids(confab, key) == [keeper]
    assert_detail(requests.get(f"{confab}/api/v1/chats/{dropped}", headers=bearer(key), timeout=TIMEOUT), 404)
    # Talking to it again by title makes a new chat.
    assert client.chat("Again", "Dropped")["response"] == echo("Again")
    assert client.chat_id not in (keeper, dropped)


def test_another_users_chat_is_unknown(confab, key, client):
    client.chat("Private", "Mine only")
    mine = client.chat_id
    other = register(confab)
    assert_detail(requests.get(f"{confab}/api/v1/chats/{mine}", headers=bearer(other), timeout=TIMEOUT), 404)
    assert requests.get(f"{confab}/api/v1/chats/search", headers=bearer(other), params={"text": "Mine only"},
                        timeout=TIMEOUT).json() == []
    assert requests.get(f"{confab}/api/v1/chats/list", headers=bearer(other), timeout=TIMEOUT).json() == []
    body = {"model": "assistant", "messages": [{"role": "user", "content": "sneak"}], "stream": False, "chat_id": mine}
    assert_detail(requests.post(f"{confab}/api/chat/completions", headers=bearer(other), json=body, timeout=TIMEOUT), 404)
    r = requests.delete(f"{confab}/api/v1/chats/{mine}", headers=bearer(other), timeout=TIMEOUT)
    assert r.status_code in (200, 404), r.text
    assert history(confab, key, mine) == [("user", "Private"), ("assistant", echo("Private"))]
    assert session_ids(confab, other) == []


def test_the_message_event_route_answers_200(confab, key, client):
    client.chat("Hi", "Events")
    r = requests.post(f"{confab}/api/v1/chats/{client.chat_id}/messages/{uuid.uuid4()}/event", headers=bearer(key),
                      json={"type": "chat:message:delta", "data": {"content": "partial"}}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text


# --- Refusals: Open WebUI's shape, 4xx, and nothing written --------------------------------------

def test_refusals_are_4xx_details_and_write_nothing(confab, key, test_upstream):
    h = bearer(key)
    unknown = str(uuid.uuid4())
    blob = {"chat": {"title": "x", "history": {"messages": {}, "currentId": None}, "messages": []}}
    hi = [{"role": "user", "content": "hi"}]
    before = upstream_total(test_upstream)

    assert_detail(requests.get(f"{confab}/api/v1/chats/{unknown}", headers=h, timeout=TIMEOUT), 404)
    assert_detail(requests.post(f"{confab}/api/v1/chats/{unknown}", headers=h, json=blob, timeout=TIMEOUT), 404)
    assert_detail(requests.post(f"{confab}/api/chat/completions", headers=h, timeout=TIMEOUT,
                                json={"model": "assistant", "messages": hi, "stream": False, "chat_id": unknown}), 404)
    for stream in (False, True):
        assert_detail(requests.post(f"{confab}/api/chat/completions", headers=h, timeout=TIMEOUT,
                                    json={"model": "no-such-model", "messages": hi, "stream": stream}), 404, 400)
    bad_bodies = [{"model": "assistant", "stream": False},                       # no messages
                  {"model": "assistant", "messages": "hi", "stream": False},     # not a list
                  {"model": "assistant", "messages": [{"role": "user"}], "stream": False},
                  {"model": "assistant", "messages": [], "stream": False},
                  {"messages": hi, "stream": False, "model": 7}]
    for body in bad_bodies:
        assert_detail(requests.post(f"{confab}/api/chat/completions", headers=h, json=body, timeout=TIMEOUT), 400, 422)
    assert_detail(requests.post(f"{confab}/api/chat/completions", headers={**h, "Content-Type": "application/json"},
                                data="{not json", timeout=TIMEOUT), 400, 422)
    assert_detail(requests.post(f"{confab}/api/v1/chats/new", headers={**h, "Content-Type": "application/json"},
                                data="{not json", timeout=TIMEOUT), 400, 422)
    assert_detail(requests.post(f"{confab}/api/v1/chats/new", headers=h, json={"chat": "not an object"},
                                timeout=TIMEOUT), 400, 422)

    # An existing chat, then a completion for it that is refused: the chat stays empty.
    chat_id = requests.post(f"{confab}/api/v1/chats/new", headers=h, json={"chat": {"title": "Guarded"}},
                            timeout=TIMEOUT).json()["id"]
    assert_detail(requests.post(f"{confab}/api/chat/completions", headers=h, timeout=TIMEOUT,
                                json={"model": "no-such-model", "messages": hi, "stream": False, "chat_id": chat_id}), 404, 400)
    assert_detail(requests.post(f"{confab}/api/chat/completions", headers=h, timeout=TIMEOUT,
                                json={"model": "assistant", "messages": [], "stream": False, "chat_id": chat_id}), 400, 422)
    assert history(confab, key, chat_id) == []
    assert [(s["id"], s["message_count"]) for s in sessions(confab, key)] == [(chat_id, 0)]
    assert upstream_total(test_upstream) == before, "a refused request reached the model"


def test_the_client_with_an_unknown_model_gets_nothing_and_nothing_is_stored(confab, key, client, test_upstream):
    before = upstream_total(test_upstream)
    assert client.chat("Hello?", "Wrong model", model_id="no-such-model") is None
    chat_id = client.chat_id
    assert chat_id, "the chat itself is made before the completion"
    assert history(confab, key, chat_id) == []
    assert upstream_total(test_upstream) == before
    # The same chat then works with a real model.
    result = client.chat("Hello again", "Wrong model", model_id="assistant")
    assert result is not None and result["chat_id"] == chat_id
    assert history(confab, key, chat_id) == [("user", "Hello again"), ("assistant", echo("Hello again"))]


def test_a_model_failure_is_a_4xx_the_client_does_not_retry(confab, key, test_upstream):
    """Open WebUI's client retries every 5xx POST: a failed model is 424 with `detail`, sent once."""
    before = upstream_total(test_upstream)
    r = requests.post(f"{confab}/api/chat/completions", headers={"Authorization": f"Bearer {key}"},
                      json={"model": "assistant", "stream": False,
                            "messages": [{"role": "user", "content": "[[tokens=6]] [[fault=error-event]] fail"}]})
    assert r.status_code == 424 and "model server" in r.json()["detail"]
    assert upstream_total(test_upstream) == before + 1
