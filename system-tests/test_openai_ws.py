"""OpenAI's Responses WebSocket mode against Confab, driven by the real, unchanged `openai` SDK:
`client.responses.connect()` opens `ws://<confab>/v1/responses` with the API key as a Bearer token,
`conn.response.create(...)` sends `{"type":"response.create", ...}`, and `for event in conn` reads
the same events, in the same order and with the same sequence numbers, as the streamed
`POST /v1/responses` (docs/WEBSOCKET.md).

Against a real Confab, Redis and the test upstream, which echoes the last user message
("Echo: <message>") and fails mid-stream with `[[fault=error-event]]`.
"""
import json
import threading

import openai
import pytest
from openai import OpenAI
from websockets.exceptions import InvalidStatus

from doors import (SETTINGS, echo, history, prompt_of, register, said_by, sessions, settled_history, upstream_total,
                   wait_for)

TIMEOUT = 60
# openai 3.57 calls websockets' connect() without `with`, which websockets 17 warns about.
pytestmark = pytest.mark.filterwarnings("ignore:connect\\(\\) must be used as a context manager:DeprecationWarning")
ENDINGS = ("response.completed", "response.failed", "response.incomplete", "error")
FAIL_MID = "[[tokens=6]] [[fault=error-event]] break halfway"


@pytest.fixture
def confab(redis_url, test_upstream, start_confab):
    return start_confab(redis_url, test_upstream + "/v1", **SETTINGS)


@pytest.fixture
def key(confab):
    return register(confab)


def sdk(base, key):
    return OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=TIMEOUT)


@pytest.fixture
def client(confab, key):
    return sdk(confab, key)


def connect(client, **options):
    """`client.responses.connect()` as an application calls it (no proxy from the environment)."""
    return client.responses.connect(websocket_connection_options={"open_timeout": TIMEOUT, "proxy": None, **options})


class Watchdog:
    """Closes the connection if a read takes longer than TIMEOUT, so that a server that never
    answers fails the test instead of hanging it (the SDK's reads have no time limit)."""

    def __init__(self, conn):
        self.fired = False

        def fire():
            self.fired = True
            conn.close()
        self.timer = threading.Timer(TIMEOUT, fire)

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()
        assert not self.fired, f"no answer within {TIMEOUT} s"


def read_response(conn):
    """The events of one response, up to and including its ending (or an `error` event)."""
    events = []
    with Watchdog(conn):
        for event in conn:
            events.append(event)
            if event.type in ENDINGS:
                return events
    raise AssertionError(f"the socket closed mid-response after {[e.type for e in events]}")


def recv(conn):
    with Watchdog(conn):
        return conn.recv()


def text_of(events):
    return "".join(e.delta for e in events if e.type == "response.output_text.delta")


def eventually(call, what, timeout=30):
    def attempt():
        try:
            return call() or True
        except openai.NotFoundError:
            return None
    return wait_for(attempt, what, timeout)


HEAD = ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
TAIL = ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]


def test_text_streams_and_a_second_response_continues_the_conversation(confab, key, client, test_upstream):
    with connect(client) as conn:
        conn.response.create(model="assistant", input="My name is Ada")
        first = read_response(conn)
        conn.response.create(model="assistant", input="What is my name?", previous_response_id=first[-1].response.id)
        second = read_response(conn)

    types = [e.type for e in first]
    assert types[:4] == HEAD and types[-4:] == TAIL, types
    assert set(types[4:-4]) == {"response.output_text.delta"}, types
    deltas = [e.delta for e in first if e.type == "response.output_text.delta"]
    assert len(deltas) > 1, "the reply came in one piece"
    assert "".join(deltas) == echo("My name is Ada")
    created, completed = first[0], first[-1]
    assert created.response.id and created.response.id == completed.response.id
    assert completed.response.status == "completed" and completed.response.output_text == echo("My name is Ada")
    assert first[-4].text == echo("My name is Ada")

    assert [e.type for e in second][-1] == "response.completed", [e.type for e in second]
    assert text_of(second) == echo("What is my name?")
    assert second[-1].response.id != completed.response.id
    assert second[-1].response.previous_response_id == completed.response.id
    # The model saw the first turn, and the two responses are one stored conversation.
    assert said_by(prompt_of(test_upstream), "user") == ["My name is Ada", "What is my name?"]
    assert said_by(prompt_of(test_upstream), "assistant") == [echo("My name is Ada")]
    for response in (completed.response, second[-1].response):
        stored = eventually(lambda: client.responses.retrieve(response.id), "the stored response")
        assert stored.output_text == response.output_text
    listed = sessions(confab, key)
    assert len(listed) == 1, listed
    assert settled_history(confab, key, listed[0]["id"], 4) == [
        ("user", "My name is Ada"), ("assistant", echo("My name is Ada")),
        ("user", "What is my name?"), ("assistant", echo("What is my name?"))]


def test_the_events_and_sequence_numbers_are_those_of_the_http_stream(client):
    message = "Same events please [[tokens=7]]"
    over_http = list(client.responses.create(model="assistant", input=message, stream=True, store=False))
    with connect(client) as conn:
        conn.response.create(model="assistant", input=message, store=False)
        over_ws = read_response(conn)
    assert [(e.type, e.sequence_number) for e in over_ws] == [(e.type, e.sequence_number) for e in over_http]
    numbers = [e.sequence_number for e in over_ws]
    assert numbers == sorted(set(numbers)), numbers
    assert text_of(over_ws) == text_of(over_http)
    # The same fields on each event (ids and times aside).
    for ws_event, http_event in zip(over_ws, over_http):
        assert set(ws_event.model_dump(exclude_none=True)) == set(http_event.model_dump(exclude_none=True)), \
            (ws_event, http_event)


def test_a_conversation_takes_responses_over_the_socket(confab, key, client, test_upstream):
    conversation = client.conversations.create(items=[{"type": "message", "role": "user", "content": "hi"}])
    with connect(client) as conn:
        for turn in ("turn one", "turn two"):
            conn.response.create(model="assistant", input=turn, conversation=conversation.id)
            events = read_response(conn)
            assert events[-1].type == "response.completed" and text_of(events) == echo(turn)
    assert said_by(prompt_of(test_upstream), "user") == ["hi", "turn one", "turn two"]
    wait_for(lambda: len(list(client.conversations.items.list(conversation.id, limit=100))) >= 5, "five items")
    items = list(client.conversations.items.list(conversation.id, order="asc", limit=100))
    assert [i.role for i in items] == ["user", "user", "assistant", "user", "assistant"]


def test_a_bad_event_is_an_error_event_and_the_socket_keeps_working(confab, key, client, test_upstream):
    before = upstream_total(test_upstream)
    with connect(client) as conn:
        conn.response.create(model="assistant")  # no input
        error = recv(conn)
        assert error.type == "error", error
        assert error.status == 400 and error.error.type == "invalid_request_error", error
        assert error.error.message, error

        conn.response.create(model="no-such-model", input="hi")
        error = recv(conn)
        assert error.type == "error" and error.status == 404, error

        conn.send({"type": "response.nonsense"})
        error = recv(conn)
        assert error.type == "error" and error.status == 400, error

        conn.response.create(model="assistant", input="hi", previous_response_id="resp_nosuchresponse")
        error = recv(conn)
        assert error.type == "error" and error.status == 404, error

        assert upstream_total(test_upstream) == before, "a refused event reached the model"
        assert sessions(confab, key) == []

        conn.response.create(model="assistant", input="Still here")
        events = read_response(conn)
    assert events[-1].type == "response.completed" and text_of(events) == echo("Still here")


def test_a_wrong_key_fails_to_connect(confab, key):
    with pytest.raises(InvalidStatus) as refused:
        with connect(sdk(confab, "cfk_" + "x" * 40)):
            pass
    response = refused.value.response
    assert response.status_code == 401
    body = json.loads(bytes(response.body))
    assert body["error"]["type"] == "authentication_error" and body["error"]["message"], body
    # The right key connects.
    with connect(sdk(confab, key)) as conn:
        conn.response.create(model="assistant", input="ok")
        assert read_response(conn)[-1].type == "response.completed"


def test_another_users_response_is_not_found(confab, key, client, test_upstream):
    response = client.responses.create(model="assistant", input="secret")
    eventually(lambda: client.responses.retrieve(response.id), "the stored response")
    stranger = sdk(confab, register(confab))
    before = upstream_total(test_upstream)
    with connect(stranger) as conn:
        conn.response.create(model="assistant", input="sneak", previous_response_id=response.id)
        error = recv(conn)
    assert error.type == "error" and error.status == 404, error
    assert upstream_total(test_upstream) == before


def test_a_model_failing_mid_stream_ends_in_response_failed(confab, key, client):
    with connect(client) as conn:
        conn.response.create(model="assistant", input=FAIL_MID)
        events = read_response(conn)
        types = [e.type for e in events]
        assert types[0] == "response.created" and "response.output_text.delta" in types, types
        assert types[-1] == "response.failed", types
        failed = events[-1].response
        assert failed.status == "failed" and failed.error.code == "upstream_stream_error", failed
        # The socket takes the next response.
        conn.response.create(model="assistant", input="after the failure")
        after = read_response(conn)
    assert after[-1].type == "response.completed" and text_of(after) == echo("after the failure")
    assert client.responses.retrieve(failed.id).status == "failed"


def test_responses_one_after_another_on_one_socket(confab, key, client):
    with connect(client) as conn:
        previous = None
        for i in range(5):
            conn.response.create(model="assistant", input=f"message {i}",
                                 **({"previous_response_id": previous} if previous else {}))
            events = read_response(conn)
            assert events[-1].type == "response.completed", [e.type for e in events]
            assert text_of(events) == echo(f"message {i}")
            previous = events[-1].response.id
    listed = sessions(confab, key)
    assert len(listed) == 1, listed
    assert len(settled_history(confab, key, listed[0]["id"], 10)) == 10
    assert [m for m in history(confab, key, listed[0]["id"]) if m[0] == "user"] == [("user", f"message {i}") for i in range(5)]


def test_a_second_create_while_one_runs_does_not_mix_into_it(client):
    """One response at a time per socket: a second `response.create` sent while the first streams
    is refused with an error event or runs after it; either way the first is whole and no event
    of the second comes inside it."""
    with connect(client) as conn:
        conn.response.create(model="assistant", input="First one [[tokens=20]]")
        conn.response.create(model="assistant", input="Second one")
        events = []
        with Watchdog(conn):
            for event in conn:
                events.append(event)
                if len([e for e in events if e.type in ENDINGS]) == 2:
                    break
        first_end = next(i for i, e in enumerate(events) if e.type == "response.completed")
        first = [e for e in events[:first_end + 1] if e.type != "error"]
        refused = [e for e in events if e.type == "error"]
        assert first[0].type == "response.created", [e.type for e in events]
        assert text_of(first) == "Echo: First one" + "".join(f" word{i}" for i in range(1, 18)), [e.type for e in events]
        assert len({e.response.id for e in first if hasattr(e, "response") and e.response is not None}) == 1
        if refused:
            assert refused[0].status in (400, 409), refused[0]
        else:
            second = events[first_end + 1:]
            assert second[0].type == "response.created" and second[-1].type == "response.completed", [e.type for e in second]
            assert text_of(second) == echo("Second one")
        # Whatever happened, the socket takes the next response.
        conn.response.create(model="assistant", input="Third")
        assert text_of(read_response(conn)) == echo("Third")


def test_permessage_deflate_when_the_application_asks_for_it(client):
    """The SDK offers no compression by default; asked through its websocket options, the socket
    is compressed and works the same."""
    with connect(client, compression="deflate", max_size=16 * 1024 * 1024) as conn:
        assert [e.name for e in conn._connection.protocol.extensions] == ["permessage-deflate"]
        conn.response.create(model="assistant", input="Squeeze this [[tokens=30]]")
        events = read_response(conn)
    assert events[-1].type == "response.completed"
    assert text_of(events) == "Echo: Squeeze this" + "".join(f" word{i}" for i in range(1, 28))
