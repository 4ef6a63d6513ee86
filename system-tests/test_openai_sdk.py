"""Confab's OpenAI door, driven by the real, unchanged `openai` Python SDK: models, chat completions
(streamed and not, tools, stored on request), Responses (stored by default, chained, streamed through
the SDK's own `responses.stream()` helper) and Conversations (items paged by the SDK), with the error
classes the SDK raises.

Against a real Confab, Redis and the test upstream, which echoes the last user message
("Echo: <message>"), calls a tool when asked with `[[tool=NAME]] {json}` and the request offers tools,
answers "Tool results: ..." once given tool results, and shows the prompt it was sent at
`/requests/last`.
"""
import json

import openai
import pytest
from openai import OpenAI

from doors import (SETTINGS, echo, history, make_agent, prompt_of, register, said_by, session_ids, sessions,
                   settled_history, upstream_last, upstream_total, wait_for)

TIMEOUT = 60
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city now.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
ASK_WEATHER = '[[tool=get_weather]] {"city":"Paris"}'


@pytest.fixture
def confab(redis_url, test_upstream, start_confab):
    return start_confab(redis_url, test_upstream + "/v1", **SETTINGS)


@pytest.fixture
def key(confab):
    return register(confab)


def sdk(base, key):
    """The SDK as an application would make it; no retries, so each error class shows as it is."""
    return OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=TIMEOUT)


@pytest.fixture
def client(confab, key):
    return sdk(confab, key)


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def item_text(item):
    """The text of a conversation item (a message): its content parts joined."""
    data = item.model_dump() if hasattr(item, "model_dump") else dict(item)
    content = data.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text") or "" for part in content or [])


def item_pairs(items):
    return [(i.role, item_text(i)) for i in items]


def eventually(call, what, timeout=30):
    """Calls `call` until it stops raising NotFoundError (a reply is stored as its turn ends)."""
    def attempt():
        try:
            return call() or True
        except openai.NotFoundError:
            return None
    return wait_for(attempt, what, timeout)


# --- Models ----------------------------------------------------------------------------------------

def test_models_are_the_personas_and_the_users_agents(confab, key, client):
    agent = make_agent(confab, key, name="Quiz master")
    other = make_agent(confab, register(confab), name="Not yours")
    models = {m.id: m for m in client.models.list()}
    assert {"assistant", "teacher", "programmer", agent["id"]} <= set(models), sorted(models)
    assert other["id"] not in models
    for model in models.values():
        assert model.object == "model" and isinstance(model.created, int) and model.owned_by, model
    assert client.models.retrieve("assistant").id == "assistant"
    assert client.models.retrieve(agent["id"]).id == agent["id"]
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve(other["id"])


# --- Chat completions ------------------------------------------------------------------------------

def test_a_chat_completion_answers_and_stores_nothing(confab, key, client, test_upstream):
    completion = client.chat.completions.create(model="assistant", messages=[user("Hello there")])
    assert completion.object == "chat.completion"
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and choice.message.content == echo("Hello there")
    assert choice.finish_reason == "stop"
    prompt = prompt_of(test_upstream)
    assert prompt[0][0] == "system" and prompt[1:] == [("user", "Hello there")], prompt
    assert sessions(confab, key) == [], "a chat completion without X-Confab-Store was stored"


def test_a_streamed_chat_completion_with_usage(confab, key, client):
    stream = client.chat.completions.create(model="assistant", messages=[user("Stream this please")], stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == echo("Stream this please")
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 1, "the reply came in one piece"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None, last
    assert last.usage.completion_tokens > 0 and last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert sessions(confab, key) == []


def test_the_sdks_stream_helper_gets_the_final_completion(client):
    with client.chat.completions.stream(model="assistant", messages=[user("Helper here")]) as stream:
        deltas = [e.delta for e in stream if e.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == final.choices[0].message.content == echo("Helper here")
    assert final.choices[0].finish_reason == "stop"


def test_chat_completions_are_stateless_the_client_sends_the_history(client, test_upstream):
    messages = [user("My name is Ada"), assistant("Hello Ada"), user("What is my name?")]
    completion = client.chat.completions.create(model="teacher", messages=messages)
    assert completion.choices[0].message.content == echo("What is my name?")
    prompt = prompt_of(test_upstream)
    assert prompt[0][0] == "system" and "teacher" in prompt[0][1], prompt
    assert prompt[1:] == [("user", "My name is Ada"), ("assistant", "Hello Ada"), ("user", "What is my name?")], prompt
    # A second call with only the last message: nothing of the first was kept.
    client.chat.completions.create(model="teacher", messages=[user("What is my name?")])
    assert prompt_of(test_upstream)[1:] == [("user", "What is my name?")]


def test_an_agent_is_a_model(confab, key, client, test_upstream):
    agent = make_agent(confab, key, name="Pirate", persona="You are Captain Flint, a test pirate.")
    completion = client.chat.completions.create(model=agent["id"], messages=[user("Ahoy")])
    assert completion.choices[0].message.content == echo("Ahoy")
    prompt = prompt_of(test_upstream)
    assert prompt[0][0] == "system" and "Captain Flint" in prompt[0][1], prompt


def test_an_unknown_model_or_another_users_agent_is_not_found(confab, client, test_upstream):
    other = make_agent(confab, register(confab), name="Not yours")
    before = upstream_total(test_upstream)
    for model in ("no-such-model", other["id"]):
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model=model, messages=[user("hi")])
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model=model, messages=[user("hi")], stream=True)
        with pytest.raises(openai.NotFoundError):
            client.responses.create(model=model, input="hi")
    assert upstream_total(test_upstream) == before


def test_the_clients_tools_are_offered_and_the_call_comes_back(client, test_upstream):
    completion = client.chat.completions.create(model="assistant", messages=[user(ASK_WEATHER)], tools=[WEATHER])
    offered = [t["function"]["name"] for t in upstream_last(test_upstream).get("tools") or []]
    assert "get_weather" in offered, offered
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    call = choice.message.tool_calls[0]
    assert len(choice.message.tool_calls) == 1 and call.type == "function" and call.id
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}

    # The client runs the tool and sends its result back: the model answers from it.
    followup = [user(ASK_WEATHER),
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": call.id, "type": "function", "function": {"name": "get_weather", "arguments": call.function.arguments}}]},
                {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}]
    answer = client.chat.completions.create(model="assistant", messages=followup, tools=[WEATHER])
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.content == "Tool results: sunny, 21 C"
    assert [role for role, _ in prompt_of(test_upstream)][-3:] == ["user", "assistant", "tool"]


def test_streamed_tool_calls_come_as_delta_tool_calls(client):
    stream = client.chat.completions.create(model="assistant", messages=[user(ASK_WEATHER)], tools=[WEATHER], stream=True)
    calls, finish = {}, []
    for chunk in stream:
        if not chunk.choices:
            continue
        for fragment in chunk.choices[0].delta.tool_calls or []:
            call = calls.setdefault(fragment.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = call["id"] or fragment.id
            if fragment.function and fragment.function.name:
                call["name"] += fragment.function.name
            if fragment.function and fragment.function.arguments:
                call["arguments"] += fragment.function.arguments
        if chunk.choices[0].finish_reason:
            finish.append(chunk.choices[0].finish_reason)
    assert finish == ["tool_calls"], finish
    assert list(calls) == [0], calls
    assert calls[0]["id"] and calls[0]["name"] == "get_weather", calls
    assert json.loads(calls[0]["arguments"]) == {"city": "Paris"}, calls
    # And through the SDK's helper, which joins the fragments itself.
    with client.chat.completions.stream(model="assistant", messages=[user(ASK_WEATHER)], tools=[WEATHER]) as helper:
        final = helper.get_final_completion()
    message = final.choices[0].message
    assert final.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls[0].function.name == "get_weather"
    assert json.loads(message.tool_calls[0].function.arguments) == {"city": "Paris"}


def test_x_confab_store_keeps_the_turn_and_the_session_id_continues_it(confab, key, client, test_upstream):
    raw = client.chat.completions.with_raw_response.create(
        model="assistant", messages=[user("Remember this")], extra_headers={"X-Confab-Store": "true"})
    session = raw.headers.get("x-confab-session-id")
    assert session, dict(raw.headers)
    assert raw.parse().choices[0].message.content == echo("Remember this")
    first = [("user", "Remember this"), ("assistant", echo("Remember this"))]
    assert settled_history(confab, key, session, 2) == first
    assert session_ids(confab, key) == [session]

    # Continuing: the client sends the whole conversation, as OpenAI clients do; the session gains
    # only the new turn, and the model sees the conversation once.
    messages = [user("Remember this"), assistant(echo("Remember this")), user("And this")]
    again = client.chat.completions.with_raw_response.create(
        model="assistant", messages=messages, extra_headers={"X-Confab-Session-Id": session})
    assert again.parse().choices[0].message.content == echo("And this")
    assert settled_history(confab, key, session, 4) == first + [("user", "And this"), ("assistant", echo("And this"))]
    assert said_by(prompt_of(test_upstream), "user") == ["Remember this", "And this"]
    assert session_ids(confab, key) == [session]


def test_a_stored_streamed_completion_announces_its_session_in_the_head(confab, key, client):
    raw = client.chat.completions.with_raw_response.create(
        model="assistant", messages=[user("Streamed and kept")], stream=True, extra_headers={"X-Confab-Store": "true"})
    session = raw.headers.get("x-confab-session-id")
    assert session, dict(raw.headers)
    text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
    assert text == echo("Streamed and kept")
    assert settled_history(confab, key, session, 2) == [("user", "Streamed and kept"), ("assistant", echo("Streamed and kept"))]


def test_another_users_session_id_reaches_nothing_of_theirs(confab, key, client, test_upstream):
    raw = client.chat.completions.with_raw_response.create(
        model="assistant", messages=[user("Mine")], extra_headers={"X-Confab-Store": "true"})
    session = raw.headers.get("x-confab-session-id")
    settled_history(confab, key, session, 2)
    stranger_key = register(confab)
    stranger = sdk(confab, stranger_key)
    # Session ids are the caller's own: naming one that another user has either is refused or keeps
    # the turn in a session of the caller's own; it never reads or writes the other user's.
    try:
        stranger.chat.completions.create(model="assistant", messages=[user("Sneak")],
                                         extra_headers={"X-Confab-Session-Id": session})
        assert said_by(prompt_of(test_upstream), "user") == ["Sneak"], "the model saw another user's messages"
        assert settled_history(confab, stranger_key, session, 2) == [("user", "Sneak"), ("assistant", echo("Sneak"))]
    except openai.NotFoundError:
        assert session_ids(confab, stranger_key) == []
    assert history(confab, key, session) == [("user", "Mine"), ("assistant", echo("Mine"))]


# --- Responses -------------------------------------------------------------------------------------

def test_a_response_is_stored_and_retrieved(confab, key, client):
    response = client.responses.create(model="assistant", input="Hello responses")
    assert response.object == "response" and response.status == "completed"
    assert response.output_text == echo("Hello responses")
    retrieved = eventually(lambda: client.responses.retrieve(response.id), "the stored response")
    assert retrieved.id == response.id and retrieved.output_text == echo("Hello responses")
    listed = sessions(confab, key)
    assert len(listed) == 1, listed
    assert settled_history(confab, key, listed[0]["id"], 2) == [("user", "Hello responses"), ("assistant", echo("Hello responses"))]


def test_a_response_takes_a_list_of_input_messages(client, test_upstream):
    response = client.responses.create(model="assistant", input=[
        {"role": "user", "content": "My name is Ada"}, {"role": "assistant", "content": "Hi Ada"},
        {"role": "user", "content": [{"type": "input_text", "text": "Who am I?"}]}])
    assert response.output_text == echo("Who am I?")
    assert prompt_of(test_upstream)[1:] == [("user", "My name is Ada"), ("assistant", "Hi Ada"), ("user", "Who am I?")]


def test_the_sdks_responses_stream_helper(client):
    with client.responses.stream(model="assistant", input="Stream a response") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed", types
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1, types
    assert "".join(deltas) == final.output_text == echo("Stream a response")
    assert final.status == "completed"
    # A streamed response is stored like any other.
    assert eventually(lambda: client.responses.retrieve(final.id), "the streamed response").output_text == final.output_text


def test_raw_response_events_come_in_the_order_clients_need(client):
    events = list(client.responses.create(model="assistant", input="Order please", stream=True))
    types = [e.type for e in events]
    head = ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
    tail = ["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]
    assert types[:4] == head and types[-4:] == tail, types
    assert set(types[4:-4]) == {"response.output_text.delta"}, types
    numbers = [e.sequence_number for e in events]
    assert numbers == sorted(set(numbers)), numbers
    assert events[-4].text == echo("Order please")
    assert events[-1].response.output_text == echo("Order please")


def test_previous_response_id_chains_three_turns(confab, key, client, test_upstream):
    first = client.responses.create(model="assistant", input="My name is Ada")
    second = client.responses.create(model="assistant", input="I like tea", previous_response_id=first.id)
    third = client.responses.create(model="assistant", input="What do you know about me?", previous_response_id=second.id)
    assert third.output_text == echo("What do you know about me?")
    assert third.previous_response_id == second.id
    prompt = prompt_of(test_upstream)
    assert said_by(prompt, "user") == ["My name is Ada", "I like tea", "What do you know about me?"], prompt
    assert said_by(prompt, "assistant") == [echo("My name is Ada"), echo("I like tea")], prompt
    # The chain is one session of six messages.
    listed = sessions(confab, key)
    assert len(listed) == 1, listed
    expected = [m for q in ("My name is Ada", "I like tea", "What do you know about me?")
                for m in (("user", q), ("assistant", echo(q)))]
    assert settled_history(confab, key, listed[0]["id"], 6) == expected


def test_instructions_reach_the_model_and_are_not_carried_over(client, test_upstream):
    first = client.responses.create(model="assistant", input="Hello", instructions="Speak like a pirate.")
    assert first.output_text == echo("Hello")
    systems = said_by(prompt_of(test_upstream), "system")
    assert any("Speak like a pirate." in s for s in systems), systems
    client.responses.create(model="assistant", input="Again", previous_response_id=first.id)
    systems = said_by(prompt_of(test_upstream), "system")
    assert not any("pirate" in s for s in systems), systems


def test_store_false_keeps_nothing(confab, key, client):
    response = client.responses.create(model="assistant", input="Forget me", store=False)
    assert response.output_text == echo("Forget me")
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    assert sessions(confab, key) == []


def test_a_deleted_response_is_gone(client):
    response = client.responses.create(model="assistant", input="Delete me")
    eventually(lambda: client.responses.retrieve(response.id), "the stored response")
    assert client.responses.delete(response.id) is None
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(response.id)


# --- Conversations ---------------------------------------------------------------------------------

def test_conversation_create_retrieve_update_delete(confab, key, client):
    conversation = client.conversations.create(items=[{"type": "message", "role": "user", "content": "hi"}],
                                               metadata={"topic": "x"})
    assert conversation.id.startswith("conv_") and conversation.object == "conversation"
    assert conversation.metadata == {"topic": "x"}
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "x"}
    assert item_pairs(client.conversations.items.list(conversation.id)) == [("user", "hi")]
    assert len(sessions(confab, key)) == 1, "a stored conversation is one of the user's sessions"

    updated = client.conversations.update(conversation.id, metadata={"topic": "y", "mood": "calm"})
    assert updated.id == conversation.id and updated.metadata == {"topic": "y", "mood": "calm"}
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "y", "mood": "calm"}

    deleted = client.conversations.delete(conversation.id)
    assert deleted.deleted is True and deleted.id == conversation.id
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.list(conversation.id)
    assert sessions(confab, key) == []


def test_three_responses_on_a_conversation_and_its_items_paged(confab, key, client, test_upstream):
    conversation = client.conversations.create(items=[{"type": "message", "role": "user", "content": "hi"}])
    for turn in ("turn one", "turn two", "turn three"):
        response = client.responses.create(model="assistant", conversation=conversation.id, input=turn)
        assert response.output_text == echo(turn)
    # The model saw the whole conversation on the last turn.
    assert said_by(prompt_of(test_upstream), "user") == ["hi", "turn one", "turn two", "turn three"]
    expected = [("user", "hi")] + [m for t in ("turn one", "turn two", "turn three")
                                   for m in (("user", t), ("assistant", echo(t)))]
    wait_for(lambda: len(list(client.conversations.items.list(conversation.id, limit=100))) >= 7, "seven items")

    # Auto-pagination, two at a time, oldest first.
    page = client.conversations.items.list(conversation.id, limit=2, order="asc")
    pages = list(page.iter_pages())
    assert [len(p.data) for p in pages] == [2, 2, 2, 1], [len(p.data) for p in pages]
    everything = list(client.conversations.items.list(conversation.id, limit=2, order="asc"))
    assert item_pairs(everything) == expected
    ids = [i.id for i in everything]
    assert len(set(ids)) == 7

    # The same by hand, with `after`.
    by_hand, after = [], None
    while True:
        page = client.conversations.items.list(conversation.id, limit=2, order="asc", **({"after": after} if after else {}))
        by_hand += [i.id for i in page.data]
        assert page.first_id == page.data[0].id and page.last_id == page.data[-1].id
        if not page.has_more:
            break
        after = page.last_id
    assert by_hand == ids
    # Newest first by default.
    assert [i.id for i in client.conversations.items.list(conversation.id)] == ids[::-1]
    # The conversation is one session holding the same messages.
    listed = sessions(confab, key)
    assert len(listed) == 1, listed
    assert settled_history(confab, key, listed[0]["id"], 7) == expected


def test_conversation_items_create_retrieve_delete(client, test_upstream):
    conversation = client.conversations.create()
    added = client.conversations.items.create(conversation.id, items=[
        {"type": "message", "role": "user", "content": "first note"},
        {"type": "message", "role": "user", "content": "second note"}])
    assert item_pairs(added.data) == [("user", "first note"), ("user", "second note")]
    first, second = added.data
    assert item_text(client.conversations.items.retrieve(first.id, conversation_id=conversation.id)) == "first note"
    after_delete = client.conversations.items.delete(first.id, conversation_id=conversation.id)
    assert after_delete.id == conversation.id
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(first.id, conversation_id=conversation.id)
    assert [i.id for i in client.conversations.items.list(conversation.id)] == [second.id]
    # The next response sees only what is left.
    client.responses.create(model="assistant", conversation=conversation.id, input="go")
    assert said_by(prompt_of(test_upstream), "user") == ["second note", "go"]


def test_previous_response_id_with_conversation_is_a_bad_request(confab, key, client, test_upstream):
    conversation = client.conversations.create()
    earlier = client.responses.create(model="assistant", input="earlier")
    before = upstream_total(test_upstream)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="assistant", input="both", conversation=conversation.id,
                                previous_response_id=earlier.id)
    assert upstream_total(test_upstream) == before
    assert list(client.conversations.items.list(conversation.id)) == []


# --- Errors ----------------------------------------------------------------------------------------

def test_bad_requests(client, test_upstream):
    before = upstream_total(test_upstream)
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="assistant", messages=[])
    assert refused.value.status_code == 400 and refused.value.message
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="assistant", messages=[], stream=True)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="assistant", messages=[{"role": "wizard", "content": "hi"}])
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="assistant", input=[])
    assert upstream_total(test_upstream) == before


def test_a_bad_key_is_an_authentication_error(confab, key):
    wrong = sdk(confab, "cfk_" + "x" * 40)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="assistant", messages=[user("hi")])
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="assistant", messages=[user("hi")], stream=True)
    with pytest.raises(openai.AuthenticationError):
        wrong.responses.create(model="assistant", input="hi")
    with pytest.raises(openai.AuthenticationError):
        wrong.conversations.create()
    # The real key still works, and nothing was written.
    assert sessions(confab, key) == []
    assert sdk(confab, key).chat.completions.create(model="assistant", messages=[user("ok")]).choices[0].message.content == echo("ok")


def test_another_users_conversation_and_response_are_not_found(confab, key, client, test_upstream):
    conversation = client.conversations.create(items=[{"type": "message", "role": "user", "content": "private"}])
    response = client.responses.create(model="assistant", input="secret")
    eventually(lambda: client.responses.retrieve(response.id), "the stored response")
    stranger_key = register(confab)
    stranger = sdk(confab, stranger_key)
    before = upstream_total(test_upstream)
    for attempt in (lambda: stranger.conversations.retrieve(conversation.id),
                    lambda: stranger.conversations.update(conversation.id, metadata={"x": "y"}),
                    lambda: stranger.conversations.items.list(conversation.id),
                    lambda: stranger.conversations.items.create(conversation.id, items=[{"type": "message", "role": "user", "content": "x"}]),
                    lambda: stranger.conversations.delete(conversation.id),
                    lambda: stranger.responses.create(model="assistant", conversation=conversation.id, input="sneak"),
                    lambda: stranger.responses.retrieve(response.id),
                    lambda: stranger.responses.delete(response.id),
                    lambda: stranger.responses.create(model="assistant", previous_response_id=response.id, input="sneak")):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert upstream_total(test_upstream) == before
    # Untouched for its owner.
    assert item_pairs(client.conversations.items.list(conversation.id)) == [("user", "private")]
    assert client.conversations.retrieve(conversation.id).metadata in ({}, None)
    assert client.responses.retrieve(response.id).output_text == echo("secret")
    assert session_ids(confab, stranger_key) == []


def test_a_second_response_while_the_first_streams_is_a_conflict(confab, key, client, test_upstream):
    conversation = client.conversations.create()
    # About ten seconds of reply: the first turn holds the conversation all through the second request.
    stream = client.responses.create(model="assistant", conversation=conversation.id, stream=True,
                                     input="A long story [[tokens=200]] [[delay=50]]")
    events = iter(stream)
    assert next(events).type == "response.created"
    with pytest.raises(openai.ConflictError) as refused:
        client.responses.create(model="assistant", conversation=conversation.id, input="Me too")
    assert refused.value.status_code == 409 and refused.value.message
    stream.close()

    # Once the first turn is over (the client left), the conversation takes turns again.
    def takes_a_turn():
        try:
            return client.responses.create(model="assistant", conversation=conversation.id, input="Now me")
        except openai.ConflictError:
            return None
    assert wait_for(takes_a_turn, "the conversation to be free again").output_text == echo("Now me")
    texts = [item_text(i) for i in client.conversations.items.list(conversation.id, order="asc")]
    assert "Me too" not in texts, "the refused input was stored"


def test_too_many_requests_is_a_rate_limit_error_with_retry_after(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **SETTINGS, CONFAB_RATE_REQUESTS_PER_MINUTE=3)
    key = register(base)
    client = sdk(base, key)
    before = upstream_total(test_upstream)
    answered, refused = 0, None
    for _ in range(10):
        try:
            client.chat.completions.create(model="assistant", messages=[user("count me")])
            answered += 1
        except openai.RateLimitError as error:
            refused = error
            break
    assert refused is not None, f"{answered} requests in a row were all answered with a limit of 3 a minute"
    assert refused.status_code == 429
    retry_after = refused.response.headers.get("retry-after")
    assert retry_after and retry_after.isdigit() and 0 < int(retry_after) <= 60, dict(refused.response.headers)
    assert upstream_total(test_upstream) - before == answered, "a refused request reached the model"
    with pytest.raises(openai.RateLimitError):
        client.responses.create(model="assistant", input="me too")


# --- The model failing: each API's own way of saying so -------------------------------------------

FAIL_MID = "[[tokens=6]] [[fault=error-event]] break halfway"


def test_a_model_failing_mid_stream_raises_after_the_first_pieces(confab, key, client):
    pieces = []
    with pytest.raises(openai.APIError) as failed:
        for chunk in client.chat.completions.create(model="assistant", messages=[user(FAIL_MID)], stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
    assert pieces, "the text before the failure reached the client"
    assert "model server reported an error" in str(failed.value)


def test_a_kept_completion_that_fails_is_a_502_the_sdk_must_not_retry(confab, key, client):
    raw = client.chat.completions.with_raw_response
    with pytest.raises(openai.InternalServerError) as failed:
        raw.create(model="assistant", messages=[user(FAIL_MID)], extra_headers={"X-Confab-Store": "true"})
    assert failed.value.status_code == 502
    assert failed.value.response.headers.get("x-should-retry") == "false"
    session = failed.value.response.headers["x-confab-session-id"]
    stored = settled_history(confab, key, session, 2)
    assert len(stored) == 2 and stored[0] == ("user", FAIL_MID), "stored once, with its error"
    # The SDK as applications make it (2 retries) still sends it once.
    retrying = OpenAI(base_url=confab + "/v1", api_key=key, timeout=TIMEOUT)
    before = len(sessions(confab, key))
    with pytest.raises(openai.InternalServerError):
        retrying.chat.completions.create(model="assistant", messages=[user(FAIL_MID)], extra_headers={"X-Confab-Store": "true"})
    assert len(sessions(confab, key)) == before + 1


def test_a_response_whose_model_fails_is_failed_streamed_or_not(confab, key, client):
    whole = client.responses.create(model="assistant", input=FAIL_MID)
    assert whole.status == "failed" and whole.error.code == "upstream_stream_error"
    assert client.responses.retrieve(whole.id).status == "failed"
    events = list(client.responses.create(model="assistant", input=FAIL_MID, stream=True))
    types = [e.type for e in events]
    assert types[0] == "response.created" and "response.output_text.delta" in types
    assert types[-1] == "response.failed"
    assert events[-1].response.error.code == "upstream_stream_error"
