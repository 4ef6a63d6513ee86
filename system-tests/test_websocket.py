"""Confab's own WebSocket protocol, `GET /chat/ws` (docs/WEBSOCKET.md), driven by the `websockets`
package as any client would: turns in new and existing sessions, many turns at once on one socket,
`stop`, the socket closing mid-turn, frames that cannot be acted on, the size limit, pings,
credentials and stream tickets, the AI SDK format, permessage-deflate, and 500 conversations at once.

Against a real Confab, Redis and the test upstream, which echoes the last user message
("Echo: <message>", directives such as `[[tokens=400]]` taken out), pads the reply to `tokens`
pieces, waits `delay` ms between pieces, and fails with `[[fault=error-event]]`.

Every wait is on something a client can see (a frame, the stored history, the upstream's count of
open streams), with a generous limit; every socket is closed by the test that opened it.
"""
import asyncio
import json
import logging
import re
import threading
import time
import uuid
from urllib.parse import quote, urlencode

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from doors import (SETTINGS, bearer, history, make_agent, prompt_of, register, said_by, sessions,
                   settled_history, upstream_active, upstream_total, wait_for)
from ui_message_stream import check_confab_shape, text_of, validate

TIMEOUT = 60
# Turns at once beyond the default 16 per user (the many-turns tests); limits have their own test.
UNLIMITED = dict(SETTINGS, CONFAB_RATE_CONCURRENT_STREAMS=0, CONFAB_RATE_REQUESTS_PER_MINUTE=0)
# About 16 s of reply (400 pieces, 40 ms apart): a turn that is surely still running.
SLOW = "[[tokens=400]] [[delay=40]]"


@pytest.fixture
def confab(redis_url, test_upstream, start_confab):
    return start_confab(redis_url, test_upstream + "/v1", **UNLIMITED)


@pytest.fixture
def key(confab):
    return register(confab)


def reply_to(message):
    """What the test upstream answers: "Echo: " and the message without its directives, padded
    with " word1", " word2", ... to `[[tokens=N]]` pieces."""
    tokens = re.search(r"\[\[tokens=(\d+)\]\]", message)
    text = re.sub(r"\[\[[a-z]+=[^\]]*\]\]", "", message).strip(" ")
    pieces = ["Echo:"] + [" " + word for word in text.split(" ")]
    filler = 0
    while tokens and len(pieces) < int(tokens.group(1)):
        filler += 1
        pieces.append(f" word{filler}")
    return "".join(pieces)


def ws_url(base, path="/chat/ws", query=""):
    return base.replace("http://", "ws://", 1) + path + (f"?{query}" if query else "")


def open_socket(base, key=None, query="", compression=None, **options):
    """A socket on /chat/ws (no proxy from the environment; no compression unless asked)."""
    headers = bearer(key) if key else None
    return Socket(connect(ws_url(base, query=query), additional_headers=headers, compression=compression,
                          proxy=None, open_timeout=TIMEOUT, close_timeout=5, legacy=True, **options))


def refusal_of(frame):
    """The `error` object of a frame that was refused (not a turn's ending), else None."""
    error = frame.get("error")
    if frame.get("type") == "error" and isinstance(error, dict) and "status" in error:
        return error
    return None


def is_ending(frame):
    """The last frame of a turn: `finish` (a stopped turn's too), or a model's `error` (with its message_id)."""
    kind = frame.get("type")
    return kind == "finish" or (kind == "error" and "message_id" in frame and refusal_of(frame) is None)


def text_from(frames):
    return "".join(f["content"] for f in frames if "content" in f and "type" not in f)


class Socket:
    """A /chat/ws connection that files every frame under its request_id (None for frames
    without one), so turns running at once can each be read to their end."""

    def __init__(self, ws):
        self.ws = ws
        self.frames = {}    # request_id -> frames, in arrival order
        self.order = []     # (request_id, frame) of every frame, in arrival order
        self.unread = {}    # request_id -> index of the next frame `next_frame` answers

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.ws.close()

    def send(self, frame):
        self.ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))

    def chat(self, request_id, message, **fields):
        self.send({"type": "chat", "request_id": request_id, "message": message, **fields})

    def read_one(self, timeout=TIMEOUT):
        raw = self.ws.recv(timeout=timeout)
        assert isinstance(raw, str), f"a binary message: {raw[:200]!r}"
        frame = json.loads(raw)
        assert isinstance(frame, dict), frame
        rid = frame.get("request_id")
        self.frames.setdefault(rid, []).append(frame)
        self.order.append((rid, frame))
        return frame

    def next_frame(self, request_id, timeout=TIMEOUT):
        """The next frame of `request_id` not yet answered here (reading the socket as needed)."""
        deadline = time.time() + timeout
        while True:
            seen = self.frames.get(request_id, [])
            index = self.unread.get(request_id, 0)
            if index < len(seen):
                self.unread[request_id] = index + 1
                return seen[index]
            remaining = deadline - time.time()
            if remaining <= 0:
                raise AssertionError(f"no frame for {request_id!r} within {timeout} s; got {self.frames.get(request_id)}")
            self.read_one(remaining)

    def until(self, request_id, done, what, timeout=TIMEOUT):
        """Reads frames of `request_id` until `done(frame)`; answers that frame."""
        deadline = time.time() + timeout
        while True:
            frame = self.next_frame(request_id, max(0.1, deadline - time.time()))
            if done(frame):
                return frame
            if time.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {self.frames.get(request_id)}")

    def turn(self, request_id, timeout=TIMEOUT):
        """Every frame of the turn `request_id`, up to and including its ending (or a refusal,
        which the caller's checks then show)."""
        self.until(request_id, lambda f: is_ending(f) or refusal_of(f) is not None, f"the end of {request_id}", timeout)
        return list(self.frames[request_id])

    def refusal(self, request_id, timeout=TIMEOUT):
        """The refusal answered to a frame (`request_id` None when it had none)."""
        frame = self.until(request_id, lambda f: refusal_of(f) is not None, f"a refusal for {request_id}", timeout)
        return frame, refusal_of(frame)

    def pieces(self, request_id, count, timeout=TIMEOUT):
        """Waits until `count` pieces of text of `request_id` have come."""
        self.until(request_id, lambda f: len([x for x in self.frames[request_id] if "content" in x]) >= count,
                   f"{count} pieces of {request_id}", timeout)


def assert_a_turn(frames, request_id, message, new_session):
    """The frames of one complete turn, as /chat/stream sends them, each with its request_id."""
    assert all(f.get("request_id") == request_id for f in frames), frames
    types = [f.get("type", "content" if "content" in f else None) for f in frames]
    head = ["session", "start"] if new_session else ["start"]
    assert types[:len(head)] == head, types
    assert "step_start" in types and "step_finish" in types, types
    assert types[-1] == "finish", types
    assert types.count("finish") == 1 and "error" not in types, types
    pieces = [f for f, kind in zip(frames, types) if kind == "content"]
    assert len(pieces) > 1, "the reply came in one piece"
    assert all(set(p) == {"request_id", "content"} for p in pieces), pieces
    assert text_from(frames) == reply_to(message)
    start = frames[len(head) - 1]
    assert start["session_id"] and start["message_id"] and start["user_message_id"], start
    finish = frames[-1]
    assert finish["message_id"] == start["message_id"], (start, finish)
    assert finish["status"] == "complete" and finish["finish_reason"] == "stop", finish
    usage = finish.get("usage")
    assert usage and usage["completion_tokens"] > 0, finish
    if new_session:
        assert frames[0]["session_id"] == start["session_id"], frames[:2]
    return start["session_id"]


def stored_reply(base, key, session, predicate, what, timeout=TIMEOUT):
    """The session's last stored message once `predicate(message)` holds for it."""
    seen = []

    def last():
        r = requests.get(f"{base}/chat/history", headers=bearer(key), params={"session_id": session}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        messages = r.json()["messages"]
        seen[:] = messages
        return messages[-1] if messages and predicate(messages[-1]) else None
    try:
        return wait_for(last, what, timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}; the session holds {seen}") from None


# --- Turns -----------------------------------------------------------------------------------------

def test_a_turn_in_a_new_session_with_an_agent(confab, key, test_upstream):
    agent = make_agent(confab, key, name="Pirate", persona="You are Captain Flint, a test pirate.")
    with open_socket(confab, key) as ws:
        ws.chat("r1", "Ahoy there", agent_id=agent["id"])
        frames = ws.turn("r1")
    session = assert_a_turn(frames, "r1", "Ahoy there", new_session=True)
    assert frames[0]["persona"] == agent["id"], frames[0]
    prompt = prompt_of(test_upstream)
    assert prompt[0][0] == "system" and "Captain Flint" in prompt[0][1], prompt
    assert prompt[1:] == [("user", "Ahoy there")], prompt
    assert settled_history(confab, key, session, 2) == [("user", "Ahoy there"), ("assistant", reply_to("Ahoy there"))]
    assert [s["id"] for s in sessions(confab, key)] == [session]


def test_a_persona_by_role_and_the_default_persona(confab, key, test_upstream):
    with open_socket(confab, key) as ws:
        ws.chat("teach", "Teach me", role="teacher")
        teacher = ws.turn("teach")
        ws.chat("plain", "Just chat")
        plain = ws.turn("plain")
    assert_a_turn(teacher, "teach", "Teach me", new_session=True)
    assert teacher[0]["persona"] == "teacher", teacher[0]
    assert_a_turn(plain, "plain", "Just chat", new_session=True)
    assert plain[0]["persona"], plain[0]
    assert plain[0]["session_id"] != teacher[0]["session_id"]
    assert len(sessions(confab, key)) == 2


def test_continuing_an_existing_session(confab, key, test_upstream):
    with open_socket(confab, key) as ws:
        ws.chat("a", "My name is Ada")
        session = assert_a_turn(ws.turn("a"), "a", "My name is Ada", new_session=True)
        ws.chat("b", "What is my name?", session_id=session)
        frames = ws.turn("b")
    assert assert_a_turn(frames, "b", "What is my name?", new_session=False) == session
    assert said_by(prompt_of(test_upstream), "user") == ["My name is Ada", "What is my name?"]
    assert said_by(prompt_of(test_upstream), "assistant") == [reply_to("My name is Ada")]
    assert settled_history(confab, key, session, 4) == [
        ("user", "My name is Ada"), ("assistant", reply_to("My name is Ada")),
        ("user", "What is my name?"), ("assistant", reply_to("What is my name?"))]
    assert [s["id"] for s in sessions(confab, key)] == [session]


def test_a_session_made_over_http_takes_turns_over_the_socket(confab, key):
    r = requests.post(f"{confab}/chat/start", headers=bearer(key), json={}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    session = r.json()["session_id"]
    with open_socket(confab, key) as ws:
        ws.chat("r1", "Over the socket", session_id=session)
        assert assert_a_turn(ws.turn("r1"), "r1", "Over the socket", new_session=False) == session
    assert settled_history(confab, key, session, 2) == [("user", "Over the socket"), ("assistant", reply_to("Over the socket"))]


def test_the_events_are_those_of_chat_stream(confab, key):
    """Each frame is the object /chat/stream sends as `data:`, with request_id added."""
    def start():
        r = requests.post(f"{confab}/chat/start", headers=bearer(key), json={}, timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return r.json()["session_id"]
    http_session, ws_session = start(), start()
    message = "Same events please [[tokens=6]]"
    query = urlencode({"session_id": http_session, "message": message}, quote_via=quote)
    with requests.get(f"{confab}/chat/stream?{query}", headers=bearer(key), stream=True, timeout=TIMEOUT) as r:
        assert r.status_code == 200, r.text
        payloads = [line[len("data: "):] for line in r.text.splitlines() if line.startswith("data: ")]
    assert payloads[-1] == "[DONE]"
    over_http = [json.loads(p) for p in payloads[:-1]]
    with open_socket(confab, key) as ws:
        ws.chat("r1", message, session_id=ws_session)
        over_ws = ws.turn("r1")

    def shape(event):
        # What is the same in both: the keys and the values that are not ids.
        return {k: (v if k not in ("session_id", "message_id", "user_message_id") else "<id>")
                for k, v in event.items() if k != "request_id"}
    assert [shape(e) for e in over_ws] == [shape(e) for e in over_http], (over_ws, over_http)
    assert all(e["request_id"] == "r1" for e in over_ws)


def test_a_model_failing_mid_turn_ends_the_turn_with_error(confab, key):
    with open_socket(confab, key) as ws:
        ws.chat("bad", "[[tokens=6]] [[fault=error-event]] break halfway")
        frames = ws.turn("bad")
        ending = frames[-1]
        assert ending["type"] == "error" and ending["status"] in ("error", "partial"), ending
        assert {"message", "type", "code"} <= set(ending["error"]), ending
        assert text_from(frames), "the text before the failure reached the client"
        # The socket carries on.
        ws.chat("good", "Still here")
        assert_a_turn(ws.turn("good"), "good", "Still here", new_session=True)
    session = frames[0]["session_id"]
    stored = stored_reply(confab, key, session, lambda m: m["role"] == "assistant", "the failed reply stored")
    assert stored["status"] in ("error", "partial"), stored


# --- Many turns at once ----------------------------------------------------------------------------

def test_twenty_turns_at_once_on_one_socket(confab, key):
    count = 20
    with open_socket(confab, key) as ws:
        for i in range(count):
            ws.chat(f"req-{i}", f"Turn number {i} [[tokens=12]]")
        turns = {f"req-{i}": ws.turn(f"req-{i}") for i in range(count)}
        order = [rid for rid, _ in ws.order]
    sessions_made = set()
    for i in range(count):
        rid = f"req-{i}"
        sessions_made.add(assert_a_turn(turns[rid], rid, f"Turn number {i} [[tokens=12]]", new_session=True))
    assert len(sessions_made) == count
    # The turns ran at once: frames of different requests interleave before the first one ends.
    first_end = next(i for i, (_, frame) in enumerate(ws.order) if is_ending(frame))
    started_before = {rid for rid, frame in ws.order[:first_end] if frame.get("type") == "start"}
    assert len(started_before) > 1, "the turns ran one after another"
    switches = sum(1 for a, b in zip(order, order[1:]) if a != b)
    assert switches > count, f"the frames of {count} turns switched request only {switches} times"
    for session in sessions_made:
        stored = settled_history(confab, key, session, 2)
        assert stored[0][0] == "user" and stored[1] == ("assistant", reply_to(stored[0][1])), stored


def test_two_sockets_of_one_user_are_independent(confab, key):
    with open_socket(confab, key) as one, open_socket(confab, key) as two:
        one.chat("same-id", "From one [[tokens=8]]")
        two.chat("same-id", "From two [[tokens=8]]")
        assert_a_turn(one.turn("same-id"), "same-id", "From one [[tokens=8]]", new_session=True)
        assert_a_turn(two.turn("same-id"), "same-id", "From two [[tokens=8]]", new_session=True)


# --- Stopping, and the socket closing mid-turn ----------------------------------------------------

def test_stop_ends_the_turn_and_keeps_the_partial_reply(confab, key, test_upstream):
    with open_socket(confab, key) as ws:
        ws.chat("long", f"Stop me {SLOW}")
        ws.pieces("long", 4)
        ws.send({"type": "stop", "request_id": "long"})
        frames = ws.turn("long")
        ending = frames[-1]
        start = next(f for f in frames if f.get("type") == "start")
        assert ending["type"] == "finish" and ending["message_id"] == start["message_id"], ending
        assert ending["status"] == "partial" and ending["reason"] == "stopped", ending
        assert [f.get("type") for f in frames].count("finish") == 1, frames
        shown = text_from(frames)
        assert shown.startswith("Echo: Stop me"), shown
        session = start["session_id"]
        stored = stored_reply(confab, key, session, lambda m: m["role"] == "assistant", "the stopped reply stored")
        assert stored["status"] == "partial" and stored["reason"] == "stopped", stored
        assert stored["content"].startswith(shown) and len(stored["content"]) < len(reply_to("Stop me")) + 400 * 8, stored
        # The model was told to stop, and the session takes the next turn at once.
        wait_for(lambda: upstream_active(test_upstream) == 0, "the model stream to be closed")
        ws.chat("next", "And now", session_id=session)
        assert_a_turn(ws.turn("next"), "next", "And now", new_session=False)


def test_stop_ends_only_its_own_turn(confab, key):
    with open_socket(confab, key) as ws:
        ws.chat("keep", "Keep going [[tokens=30]]")
        ws.chat("drop", f"Drop me {SLOW}")
        ws.pieces("drop", 2)
        ws.send({"type": "stop", "request_id": "drop"})
        dropped = ws.turn("drop")[-1]
        assert dropped["type"] == "finish" and dropped["status"] == "partial" and dropped["reason"] == "stopped", dropped
        assert_a_turn(ws.turn("keep"), "keep", "Keep going [[tokens=30]]", new_session=True)


def test_the_socket_closing_mid_turn_keeps_the_partial_reply(confab, key, test_upstream):
    ws = open_socket(confab, key)
    try:
        ws.chat("gone", f"I will leave {SLOW}")
        ws.pieces("gone", 4)
        session = ws.frames["gone"][0]["session_id"]
        shown = text_from(ws.frames["gone"])
    finally:
        ws.ws.close()
    stored = stored_reply(confab, key, session, lambda m: m["role"] == "assistant" and m.get("status") == "partial",
                          "the partial reply stored after the socket closed")
    assert stored["reason"] == "client_disconnected", stored
    assert stored["content"].startswith(shown) and len(stored["content"]) < len(reply_to("I will leave")) + 400 * 8, stored
    wait_for(lambda: upstream_active(test_upstream) == 0, "the model stream to be cancelled")
    assert history(confab, key, session)[0] == ("user", f"I will leave {SLOW}")


def test_with_on_disconnect_continue_the_whole_reply_is_stored(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **UNLIMITED, CONFAB_ON_DISCONNECT="continue")
    key = register(base)
    message = "Finish without me [[tokens=60]] [[delay=40]]"
    ws = open_socket(base, key)
    try:
        ws.chat("gone", message)
        ws.pieces("gone", 3)
        session = ws.frames["gone"][0]["session_id"]
    finally:
        ws.ws.close()
    stored = stored_reply(base, key, session, lambda m: m["role"] == "assistant", "the whole reply stored")
    assert stored["status"] == "complete", stored
    assert stored["content"].startswith(reply_to("Finish without me")) and "word" in stored["content"], stored


# --- Frames that cannot be acted on ----------------------------------------------------------------

def test_bad_frames_get_errors_and_the_socket_stays_open(confab, key, test_upstream):
    other_key = register(confab)
    with open_socket(confab, other_key) as theirs:
        theirs.chat("t", "Private")
        their_session = theirs.turn("t")[0]["session_id"]
    before_sessions, before_upstream = sessions(confab, key), upstream_total(test_upstream)
    with open_socket(confab, key) as ws:
        ws.send("this is not JSON")
        frame, error = ws.refusal(None)
        assert error["status"] == 400 and error["code"] and error["message"], frame

        ws.send("[1, 2, 3]")
        assert ws.refusal(None)[1]["status"] == 400

        ws.send({"type": "chat", "message": "no request id"})
        assert ws.refusal(None)[1]["status"] == 400

        cases = [
            ({"type": "no-such-type", "request_id": "b1"}, 400),
            ({"type": "chat", "request_id": "b2"}, 400),                                       # no message
            ({"type": "chat", "request_id": "b3", "message": ""}, 400),                         # empty message
            ({"type": "chat", "request_id": "b4", "message": 5}, 400),                          # not a string
            ({"type": "chat", "request_id": "b5", "message": "hi", "session_id": str(uuid.uuid4())}, 404),
            ({"type": "chat", "request_id": "b6", "message": "hi", "session_id": their_session}, 404),
            ({"type": "chat", "request_id": "b7", "message": "hi", "agent_id": "agt_" + "q" * 16}, 404),
            ({"type": "chat", "request_id": "b8", "message": "hi", "role": "no-such-persona"}, 400),  # as over HTTP
        ]
        for frame, status in cases:
            ws.send(frame)
            answered, error = ws.refusal(frame["request_id"])
            assert error["status"] == status, (frame, answered)
            assert answered["request_id"] == frame["request_id"] and error["code"] and error["message"], answered

        for bad_id in ("x" * 129, "tab\there", ""):
            ws.send({"type": "chat", "request_id": bad_id, "message": "hi"})
            frame = ws.read_one()
            assert refusal_of(frame) and refusal_of(frame)["status"] == 400, frame

        # Nothing was stored and the model was never asked.
        assert sessions(confab, key) == before_sessions
        assert upstream_total(test_upstream) == before_upstream
        assert history(confab, other_key, their_session) == [("user", "Private"), ("assistant", reply_to("Private"))]

        # The same socket still takes turns.
        ws.chat("ok", "Still works")
        assert_a_turn(ws.turn("ok"), "ok", "Still works", new_session=True)


def test_a_duplicate_running_request_id_and_a_busy_session_are_conflicts(confab, key):
    with open_socket(confab, key) as ws:
        ws.chat("r1", f"Long one {SLOW}")
        ws.pieces("r1", 1)
        session = ws.frames["r1"][0]["session_id"]

        ws.chat("r1", "Same id again")
        answered, error = ws.refusal("r1")
        assert error["status"] == 409 and answered["request_id"] == "r1", answered

        ws.chat("r2", "Same session", session_id=session)
        answered, error = ws.refusal("r2")
        assert error["status"] == 409 and answered["request_id"] == "r2", answered

        # The running turn was not disturbed: stop it, and the session and the id are free again.
        ws.send({"type": "stop", "request_id": "r1"})
        assert is_ending(ws.turn("r1")[-1])
        ws.chat("r1b", "Now me", session_id=session)
        assert_a_turn(ws.turn("r1b"), "r1b", "Now me", new_session=False)
    texts = [content for _, content in history(confab, key, session)]
    assert "Same id again" not in texts and "Same session" not in texts, texts


def test_a_request_id_is_free_again_once_its_turn_ended(confab, key):
    with open_socket(confab, key) as ws:
        ws.chat("again", "First")
        session = assert_a_turn(ws.turn("again"), "again", "First", new_session=True)
        ws.frames.pop("again")
        ws.unread.pop("again")
        ws.chat("again", "Second", session_id=session)
        assert_a_turn(ws.turn("again"), "again", "Second", new_session=False)


def test_the_concurrent_stream_limit_is_a_429_frame(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **SETTINGS, CONFAB_RATE_CONCURRENT_STREAMS=2)
    key = register(base)
    with open_socket(base, key) as ws:
        ws.chat("a", f"one {SLOW}")
        ws.chat("b", f"two {SLOW}")
        ws.pieces("a", 1)
        ws.pieces("b", 1)
        ws.chat("c", "three")
        answered, error = ws.refusal("c")
        assert error["status"] == 429, answered
        retry_after = error.get("retry_after", answered.get("retry_after"))
        assert isinstance(retry_after, int) and retry_after > 0, answered
        for rid in ("a", "b"):
            ws.send({"type": "stop", "request_id": rid})
            assert is_ending(ws.turn(rid)[-1])

        def takes_a_turn():
            ws.chat("d", "four")
            frame = ws.until("d", lambda f: is_ending(f) or refusal_of(f) is not None, "d answered")
            if refusal_of(frame):
                ws.frames.pop("d")
                ws.unread.pop("d")
                return None
            return frame
        assert wait_for(takes_a_turn, "a stream slot free again")["type"] == "finish"


# --- The frame size limit --------------------------------------------------------------------------

def close_code(ws, timeout=TIMEOUT):
    """The code of the server's close frame, read after whatever frames come first."""
    before = len(ws.order)
    try:
        while True:
            ws.read_one(timeout)
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "the server dropped the connection without a close frame"
        return closed.rcvd.code
    except TimeoutError:
        raise AssertionError(f"the socket stayed open for {timeout} s; it answered {str(ws.order[before:])[:1500]}") from None


@pytest.mark.parametrize("compression", [None, "deflate"], ids=["plain", "deflate"])
def test_a_frame_over_the_limit_closes_the_socket_with_1009(confab, key, compression):
    with open_socket(confab, key, compression=compression) as ws:
        # Just under the limit is an ordinary frame (refused or not, the socket stays).
        ws.send({"type": "ping", "padding": "y" * 60000})
        ws.send({"type": "ping"})
        ws.until(None, lambda f: f.get("type") == "pong", "an answer after a frame under the limit")
        # Over it (uncompressible without deflate; with deflate, tiny on the wire but 70 kB inflated).
        filler = uuid.uuid4().hex * 2200 if compression is None else "x" * 70000
        ws.chat("big", filler)
        assert close_code(ws, 30) == 1009
    assert sessions(confab, key) == []


def test_the_limit_follows_the_setting(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **SETTINGS, CONFAB_WS_MAX_MESSAGE_BYTES=2048)
    key = register(base)
    with open_socket(base, key) as ws:
        ws.chat("small", "fits")
        ws.turn("small")
        ws.chat("big", "z" * 3000)
        assert close_code(ws, 30) == 1009


# --- Pings -----------------------------------------------------------------------------------------

def test_pings_are_answered(confab, key):
    with open_socket(confab, key) as ws:
        assert ws.ws.ping(b"are you there").wait(TIMEOUT), "no pong for a ping frame"
        ws.send({"type": "ping"})
        assert ws.until(None, lambda f: True, "the answer to a ping frame") == {"type": "pong"}
        # And between turns.
        ws.chat("r", "hello")
        ws.send({"type": "ping"})
        assert ws.until(None, lambda f: True, "pong") == {"type": "pong"}
        ws.turn("r")


def test_the_server_pings_an_idle_socket(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **SETTINGS, CONFAB_WS_PING_SECONDS=1)
    key = register(base)
    seen = []

    class Catch(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())
    logger = logging.getLogger(f"ws-ping-{uuid.uuid4().hex}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(Catch())
    # The client's own pings off, so any ping on the wire is the server's.
    with open_socket(base, key, logger=logger, ping_interval=None) as ws:
        wait_for(lambda: any(m.startswith("< PING") for m in seen), "a ping from the server", timeout=30)
        ws.send({"type": "ping"})
        assert ws.until(None, lambda f: True, "pong") == {"type": "pong"}


# --- Credentials -----------------------------------------------------------------------------------

def refused_status(base, key=None, query=""):
    """The status of a refused upgrade, after checking it is answered as the HTTP API would:
    a JSON error body (and, for 401, WWW-Authenticate; for 429, Retry-After)."""
    with pytest.raises(InvalidStatus) as refused:
        open_socket(base, key, query=query).ws.close()
    response = refused.value.response
    body = json.loads(bytes(response.body) or b"null")
    assert isinstance(body, dict) and body["error"]["code"] and body["error"]["message"], (response.status_code, body)
    if response.status_code == 401:
        assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), dict(response.headers)
    if response.status_code == 429:
        assert response.headers.get("Retry-After", "").isdigit(), dict(response.headers)
    return response.status_code


@pytest.fixture
def required(redis_url, test_upstream, start_confab):
    return start_confab(redis_url, test_upstream + "/v1", **UNLIMITED, CONFAB_AUTH="required")


def test_no_or_wrong_credentials_are_refused_on_upgrade(required, test_upstream):
    before = upstream_total(test_upstream)
    assert refused_status(required) == 401
    assert refused_status(required, key="cfk_" + "x" * 40) == 401
    assert refused_status(required, query="ticket=cft_" + "x" * 32) == 401
    assert refused_status(required, query="user_id=someone") == 401
    assert upstream_total(test_upstream) == before
    # A real key opens it.
    key = register(required)
    with open_socket(required, key) as ws:
        ws.chat("r", "let me in")
        assert_a_turn(ws.turn("r"), "r", "let me in", new_session=True)


def test_the_request_rate_limit_refuses_upgrades_or_turns_with_429(redis_url, test_upstream, start_confab):
    """With 3 requests a minute, the limit shows as a 429 upgrade (with Retry-After) or, if opening
    a socket is not counted, as 429 error frames with retry_after on one socket."""
    base = start_confab(redis_url, test_upstream + "/v1", **SETTINGS, CONFAB_RATE_REQUESTS_PER_MINUTE=3)
    key = register(base)
    for _ in range(10):
        try:
            open_socket(base, key).ws.close()
        except InvalidStatus:
            assert refused_status(base, key) == 429
            return
    with open_socket(base, key) as ws:
        for i in range(10):
            ws.chat(f"n{i}", "count me")
            frame = ws.until(f"n{i}", lambda f: is_ending(f) or refusal_of(f) is not None, f"n{i} answered")
            error = refusal_of(frame)
            if error:
                assert error["status"] == 429 and error["retry_after"] > 0, frame
                return
    raise AssertionError("ten sockets and ten turns with a limit of 3 requests a minute were all accepted")


def test_a_wrong_key_is_refused_in_open_mode_too(confab):
    assert refused_status(confab, key="cfk_" + "x" * 40) == 401


def test_a_stream_ticket_opens_one_socket(required, test_upstream):
    key = register(required)

    def ticket():
        r = requests.post(f"{required}/api/v1/auth/ticket", headers=bearer(key), timeout=TIMEOUT)
        assert r.status_code == 201, r.text
        return r.json()["ticket"]
    t = ticket()
    with open_socket(required, query=f"ticket={t}") as ws:
        ws.chat("r", "by ticket")
        session = assert_a_turn(ws.turn("r"), "r", "by ticket", new_session=True)
    assert settled_history(required, key, session, 2) == [("user", "by ticket"), ("assistant", reply_to("by ticket"))]
    assert refused_status(required, query=f"ticket={t}") == 401, "a used ticket is refused with 401"


def test_open_mode_without_credentials_names_the_user_in_the_frame(confab, user_id):
    with open_socket(confab) as ws:
        ws.chat("r", "anonymous hello", user_id=user_id)
        session = assert_a_turn(ws.turn("r"), "r", "anonymous hello", new_session=True)
    r = requests.get(f"{confab}/chat/history", params={"user_id": user_id, "session_id": session}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    assert [(m["role"], m["content"]) for m in r.json()["messages"]] == [
        ("user", "anonymous hello"), ("assistant", reply_to("anonymous hello"))]


def test_another_users_session_is_not_found(confab, key, test_upstream):
    stranger = register(confab)
    with open_socket(confab, key) as mine:
        mine.chat("r", "Mine only")
        session = assert_a_turn(mine.turn("r"), "r", "Mine only", new_session=True)
    before = upstream_total(test_upstream)
    with open_socket(confab, stranger) as theirs:
        theirs.chat("sneak", "Let me in", session_id=session)
        answered, error = theirs.refusal("sneak")
        assert error["status"] == 404, answered
        theirs.send({"type": "stop", "request_id": "r"})   # another socket's request id: nothing of mine
        theirs.send({"type": "ping"})
        assert theirs.until(None, lambda f: f.get("type") == "pong", "pong")
    assert upstream_total(test_upstream) == before
    assert history(confab, key, session) == [("user", "Mine only"), ("assistant", reply_to("Mine only"))]
    assert sessions(confab, stranger) == []


# --- permessage-deflate ----------------------------------------------------------------------------

def test_permessage_deflate_is_negotiated_when_asked(confab, key):
    with open_socket(confab, key, compression="deflate") as ws:
        offered = ws.ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert "permessage-deflate" in offered, dict(ws.ws.response.headers)
        assert [e.name for e in ws.ws.protocol.extensions] == ["permessage-deflate"]
        message = "Compressed please [[tokens=40]]"
        ws.chat("z", message)
        assert_a_turn(ws.turn("z"), "z", message, new_session=True)
    with open_socket(confab, key) as plain:
        assert "Sec-WebSocket-Extensions" not in plain.ws.response.headers
        assert plain.ws.protocol.extensions == []
        plain.chat("p", "Plain")
        assert_a_turn(plain.turn("p"), "p", "Plain", new_session=True)


# --- The AI SDK format -----------------------------------------------------------------------------

def test_format_ai_sdk_gives_the_ui_message_stream_events(confab, key):
    with open_socket(confab, key) as ws:
        ws.chat("first", "Make a session")
        session = assert_a_turn(ws.turn("first"), "first", "Make a session", new_session=True)
        ws.chat("ui", "Hello from the AI SDK", session_id=session, format="ai-sdk")
        ws.until("ui", lambda f: f.get("type") == "finish", "the AI SDK finish")
        frames = ws.frames["ui"]
        # Both formats on one socket at once: a Confab-format turn alongside.
        ws.chat("own", "Own format")
        assert_a_turn(ws.turn("own"), "own", "Own format", new_session=True)
    assert all(f.get("request_id") == "ui" for f in frames), frames
    bare = [{k: v for k, v in f.items() if k != "request_id"} for f in frames]
    chunks = validate([json.dumps(c) for c in bare] + ["[DONE]"])
    check_confab_shape(chunks)
    types = [c["type"] for c in chunks]
    assert types[0] == "start" and types[-1] == "finish" and "text-delta" in types, types
    assert not any("content" in c for c in bare), bare
    assert text_of(chunks) == reply_to("Hello from the AI SDK"), chunks
    assert len([t for t in types if t == "text-delta"]) > 1, types
    stored = settled_history(confab, key, session, 4)
    assert stored[-1] == ("assistant", text_of(chunks)), stored


# --- Many conversations at once --------------------------------------------------------------------

def test_five_hundred_conversations_at_once(confab, test_upstream):
    """50 sockets (5 users × 10), 10 turns at once on each: every turn finishes with its own reply,
    and all 500 replies are stored."""
    from websockets.asyncio.client import connect as aconnect
    users = [register(confab) for _ in range(5)]
    sockets_per_user, turns_per_socket = 10, 10

    async def one_socket(key, index):
        results = {}
        async with aconnect(ws_url(confab), additional_headers=bearer(key), compression=None, proxy=None,
                            open_timeout=TIMEOUT, max_queue=None) as ws:
            for turn in range(turns_per_socket):
                await ws.send(json.dumps({"type": "chat", "request_id": f"t{turn}",
                                          "message": f"socket {index} turn {turn}"}))
            frames = {f"t{turn}": [] for turn in range(turns_per_socket)}
            done = set()
            while len(done) < turns_per_socket:
                frame = json.loads(await ws.recv())
                rid = frame.get("request_id")
                assert rid in frames, frame
                frames[rid].append(frame)
                assert refusal_of(frame) is None, frame
                if is_ending(frame):
                    done.add(rid)
            for turn in range(turns_per_socket):
                rid = f"t{turn}"
                got = frames[rid]
                assert got[-1]["type"] == "finish" and got[-1]["status"] == "complete", got[-3:]
                assert text_from(got) == reply_to(f"socket {index} turn {turn}"), got
                results[got[0]["session_id"]] = (key, f"socket {index} turn {turn}")
        return results

    async def everything():
        jobs = [one_socket(users[i % len(users)], i) for i in range(len(users) * sockets_per_user)]
        return await asyncio.wait_for(asyncio.gather(*jobs), timeout=120)

    started = time.time()
    results = asyncio.run(everything())
    elapsed = time.time() - started
    conversations = {session: value for result in results for session, value in result.items()}
    assert len(conversations) == 500, len(conversations)

    # Every reply stored (checked by 8 threads; a reply is stored as its turn ends).
    missing, lock = [], threading.Lock()

    def check(items):
        http = requests.Session()
        for session, (key, message) in items:
            deadline = time.time() + TIMEOUT
            while True:
                r = http.get(f"{confab}/chat/history", headers=bearer(key), params={"session_id": session}, timeout=TIMEOUT)
                got = [(m["role"], m["content"]) for m in r.json().get("messages", [])] if r.status_code == 200 else None
                if got == [("user", message), ("assistant", reply_to(message))]:
                    break
                if time.time() > deadline:
                    with lock:
                        missing.append((session, r.status_code, got))
                    break
                time.sleep(0.2)
    items = list(conversations.items())
    threads = [threading.Thread(target=check, args=(items[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not missing, f"{len(missing)} replies not stored, e.g. {missing[:3]}"
    print(f"500 conversations over 50 sockets in {elapsed:.1f} s")
    assert elapsed < 90, f"500 conversations took {elapsed:.1f} s"
