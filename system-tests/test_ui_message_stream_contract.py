"""The UI message stream checker itself, on hand-written streams (no server needed).

Every rule has a good stream that passes and a bad one that fails naming the rule.
"""
import json

import pytest

from ui_message_stream import ContractError, check_confab_shape, parse_sse, steps_of, text_of, validate

USAGE = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}


def sse(*chunks, end="\n\n"):
    """An SSE body the way Confab writes it: one `data:` line per chunk, then [DONE]."""
    body = "".join(f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n" for c in chunks)
    return (body + "data: [DONE]" + end).encode()


def turn(*middle, finish=None):
    """A whole Confab turn around `middle` (the chunks of its steps)."""
    return [{"type": "start", "messageId": "m1"}, *middle,
            finish or {"type": "finish", "finishReason": "stop", "messageMetadata": {"usage": USAGE}}]


TEXT_STEP = [{"type": "start-step"}, {"type": "text-start", "id": "t1"},
             {"type": "text-delta", "id": "t1", "delta": "Hel"}, {"type": "text-delta", "id": "t1", "delta": "lo"},
             {"type": "text-end", "id": "t1"}, {"type": "finish-step"}]
TOOL_STEP = [{"type": "start-step"},
             {"type": "tool-input-start", "toolCallId": "c1", "toolName": "find_agents"},
             {"type": "tool-input-delta", "toolCallId": "c1", "inputTextDelta": '{"query":"x"}'},
             {"type": "tool-input-available", "toolCallId": "c1", "toolName": "find_agents", "input": {"query": "x"}},
             {"type": "tool-output-available", "toolCallId": "c1", "output": {"agents": []}},
             {"type": "finish-step"}]


def check(chunks, version="strict"):
    """validate + check_confab_shape on the SSE body of `chunks`; returns the chunks."""
    result = validate(parse_sse(sse(*chunks)), version)
    check_confab_shape(result)
    return result


# --- good streams -------------------------------------------------------------------------------

def test_a_plain_text_turn_passes():
    """The shape of a normal reply: one step with one text part."""
    chunks = check(turn(*TEXT_STEP))
    assert text_of(chunks) == "Hello" and len(steps_of(chunks)) == 1


def test_a_tool_turn_passes():
    """A tool call in the first step and the answer in the second."""
    chunks = check(turn(*TOOL_STEP, *TEXT_STEP))
    assert [len(s) for s in steps_of(chunks)] == [4, 4]


def test_an_error_turn_passes_without_usage():
    """A reply that fails mid-text: error then finish, the step left open, no usage needed."""
    check(turn(*TEXT_STEP[:3], {"type": "error", "errorText": "the model failed"},
               finish={"type": "finish", "finishReason": "error"}))


def test_every_optional_field_of_the_strict_schema_passes():
    """Optional fields with the right types, data parts, sources, files, reasoning, metadata."""
    check(turn({"type": "message-metadata", "messageMetadata": {"model": "m"}},
               {"type": "start-step"},
               {"type": "reasoning-start", "id": "r", "providerMetadata": {"p": {"k": 1}}},
               {"type": "reasoning-delta", "id": "r", "delta": ""}, {"type": "reasoning-end", "id": "r"},
               {"type": "tool-input-available", "toolCallId": "c", "toolName": "t", "input": None,
                "providerExecuted": True, "dynamic": False, "providerMetadata": {}},
               {"type": "tool-output-available", "toolCallId": "c", "output": [1], "preliminary": True},
               {"type": "tool-input-error", "toolCallId": "d", "toolName": "t", "input": "{", "errorText": "bad"},
               {"type": "tool-output-error", "toolCallId": "d", "errorText": "bad", "providerExecuted": False},
               {"type": "source-url", "sourceId": "s", "url": "https://x", "title": "X"},
               {"type": "source-document", "sourceId": "s2", "mediaType": "text/plain", "title": "D", "filename": "d"},
               {"type": "file", "url": "data:,x", "mediaType": "text/plain"},
               {"type": "data-weather", "id": "w", "data": {"c": 20}, "transient": True},
               {"type": "finish-step"},
               finish={"type": "finish", "messageMetadata": {"usage": {**USAGE, "estimated": True}}}))


@pytest.mark.parametrize("body", [
    b"data: {\"a\":1}\r\n\r\n",                      # CRLF
    b"data: {\"a\":1}\r\r",                          # CR ... followed by more text below
    b": keep-alive\n\ndata: {\"a\":1}\n\n",          # a comment
    b"event: x\nid: 7\nretry: 100\ndata: {\"a\":1}\n\n",  # ignored fields
    b"\xef\xbb\xbfdata: {\"a\":1}\n\n",              # a BOM
    b"data:{\"a\":1}\n\n",                           # no space after the colon
    b"data: {\"a\":\ndata: 1}\n\n",                  # two data lines join with \n
])
def test_sse_framings_the_client_reads(body):
    """Every line ending, comments, ignored fields, a BOM and multi-line data give the same payload."""
    if body.endswith(b"\r\r"):
        body += b"data: [DONE]\n\n"
    assert json.loads(parse_sse(body)[0]) == {"a": 1}


def test_sse_empty_data_line_is_an_empty_payload():
    """`data:` with nothing is dispatched as "", which validate then refuses as not JSON."""
    assert parse_sse(b"data:\n\n") == [""]
    with pytest.raises(ContractError, match="payload 0.*not JSON"):
        validate([""])


def test_done_is_skipped_anywhere_by_validate():
    """The client neither needs [DONE] nor stops at it: chunks after it are still checked."""
    assert len(validate(["[DONE]", '{"type":"start"}', "[DONE]"])) == 1
    with pytest.raises(ContractError, match="payload 1"):
        validate(["[DONE]", '{"type":"text-delta","id":"x","delta":"a"}'])


def test_versions_differ_where_the_reference_says():
    """Newer fields pass the versions that know them; unknown keys pass only the loose 6.0.264."""
    title = '{"type":"tool-input-start","toolCallId":"c","toolName":"t","title":"T"}'
    validate([title], "6.0.0")
    validate(['{"type":"finish","finishReason":"unknown"}'], "5.0.216")
    validate(['{"type":"abort","reason":"user"}', '{"type":"start","extra":1}'], "6.0.264")
    with pytest.raises(ContractError, match="unknown keys"):
        validate([title], "5.0.216")


# --- bad streams: SSE framing ---------------------------------------------------------------------

def test_a_last_event_without_a_blank_line_is_lost():
    """The client never dispatches a final event with no blank line after it: flagged, and dropped."""
    with pytest.raises(ContractError, match="payload 1.*never dispatches"):
        parse_sse(b'data: {"a":1}\n\ndata: [DONE]\n')
    assert parse_sse(b'data: {"a":1}\n\ndata: [DONE]', strict=False) == ['{"a":1}']


def test_a_trailing_lone_cr_never_ends_the_event():
    """`\\r\\r` at the very end: the second CR might be half a CRLF, so the parser waits forever."""
    with pytest.raises(ContractError, match="never dispatches"):
        parse_sse(b'data: {"a":1}\r\r')


def test_invalid_utf8_is_refused():
    """Bytes that are not UTF-8 would reach the client as U+FFFD."""
    with pytest.raises(ContractError, match="not UTF-8"):
        parse_sse(b"data: \xff\n\n")
    assert parse_sse(b"data: \xff\n\n", strict=False) == ["\ufffd"]


# --- bad streams: the chunk schema -----------------------------------------------------------------

SCHEMA_VIOLATIONS = {
    "not JSON": ("data: ping", "not JSON"),
    "NaN": ('{"type":"message-metadata","messageMetadata":NaN}', "not JSON"),
    "not an object": ('["start"]', "JSON object"),
    "no type": ('{"messageId":"m"}', "`type`"),
    "type not a string": ('{"type":1}', "`type`"),
    "unknown type": ('{"type":"usage","usage":{}}', "unknown chunk type"),
    "unknown key": ('{"type":"finish","usage":{}}', "unknown keys"),
    "missing errorText": ('{"type":"error"}', "'errorText' is missing"),
    "missing any-typed key": ('{"type":"message-metadata"}', "'messageMetadata' is missing"),
    "missing output": ('{"type":"tool-output-available","toolCallId":"c"}', "'output' is missing"),
    "data part without data": ('{"type":"data-x","id":"d"}', "'data' is missing"),
    "null messageId": ('{"type":"start","messageId":null}', "null"),
    "null finishReason": ('{"type":"finish","finishReason":null}', "null"),
    "null metadata": ('{"type":"finish","messageMetadata":null}', "null"),
    "null providerExecuted": ('{"type":"tool-input-start","toolCallId":"c","toolName":"t","providerExecuted":null}',
                              "null"),
    "number delta": ('{"type":"text-delta","id":"t","delta":5}', "must be a string"),
    "null required id": ('{"type":"text-start","id":null}', "must be a string"),
    "string bool": ('{"type":"tool-input-start","toolCallId":"c","toolName":"t","dynamic":"yes"}', "true or false"),
    "flat providerMetadata": ('{"type":"text-start","id":"t","providerMetadata":{"a":1}}', "object of objects"),
    "openai finish reason": ('{"type":"finish","finishReason":"tool_calls"}', "must be one of"),
    "v5-only finish reason": ('{"type":"finish","finishReason":"unknown"}', "must be one of"),
    "field newer than 6.0.0": ('{"type":"abort","reason":"user"}', "unknown keys"),
    "toolMetadata": ('{"type":"tool-output-available","toolCallId":"c","output":1,"toolMetadata":{}}',
                     "unknown keys"),
    "title on a tool input (not in 5.x)": ('{"type":"tool-input-start","toolCallId":"c","toolName":"t","title":"T"}',
                                           "unknown keys"),
    "approval chunk (not in 5.x)": ('{"type":"tool-output-denied","toolCallId":"c"}', "unknown chunk type"),
    "__proto__": ('{"type":"message-metadata","messageMetadata":{"__proto__":{}}}', "__proto__"),
    "constructor.prototype": ('{"type":"data-x","data":[{"constructor":{"prototype":1}}]}', "constructor"),
}


@pytest.mark.parametrize("payload,message", SCHEMA_VIOLATIONS.values(), ids=SCHEMA_VIOLATIONS.keys())
def test_schema_violations_are_refused(payload, message):
    """A strict client refuses the chunk, so the chat turns to status `error`."""
    with pytest.raises(ContractError, match=message) as caught:
        validate(['{"type":"start"}', payload])
    assert "payload 1" in str(caught.value)


# --- bad streams: the client's ordering rules -----------------------------------------------------

def chunk(kind, **fields):
    return {"type": kind, **fields}


ORDER_VIOLATIONS = {
    "text-delta before text-start": [chunk("text-delta", id="t", delta="a")],
    "text-end before text-start": [chunk("text-end", id="t")],
    "text-delta after text-end": [chunk("text-start", id="t"), chunk("text-end", id="t"),
                                  chunk("text-delta", id="t", delta="a")],
    "text-delta for another id": [chunk("text-start", id="t"), chunk("text-delta", id="u", delta="a")],
    "text-end after finish-step": [chunk("start-step"), chunk("text-start", id="t"), chunk("finish-step"),
                                   chunk("start-step"), chunk("text-end", id="t")],
    "reasoning-delta before reasoning-start": [chunk("reasoning-delta", id="r", delta="a")],
    "reasoning id is not a text id": [chunk("text-start", id="t"), chunk("reasoning-end", id="t")],
    "reasoning-delta after finish-step": [chunk("reasoning-start", id="r"), chunk("finish-step"),
                                          chunk("reasoning-delta", id="r", delta="a")],
    "tool-input-delta without tool-input-start": [
        chunk("tool-input-available", toolCallId="c", toolName="t", input={}),
        chunk("tool-input-delta", toolCallId="c", inputTextDelta="{")],
    "tool-output-available for an unknown call": [chunk("tool-output-available", toolCallId="c", output={})],
    "tool-output-error for an unknown call": [
        chunk("tool-input-start", toolCallId="other", toolName="t"),
        chunk("tool-output-error", toolCallId="c", errorText="x")],
}


@pytest.mark.parametrize("chunks", ORDER_VIOLATIONS.values(), ids=ORDER_VIOLATIONS.keys())
def test_ordering_violations_are_refused(chunks):
    """The client throws on these (UIMessageStreamError / TypeError / No tool invocation found)."""
    payloads = [json.dumps(c) for c in [chunk("start"), *chunks]]
    with pytest.raises(ContractError, match=f"payload {len(chunks)} "):
        validate(payloads)


def test_nothing_after_an_error_is_ordered_by_the_client():
    """Processing stops at `error`: validate accepts what follows, check_confab_shape refuses it."""
    stream = turn(*TEXT_STEP[:3], chunk("error", errorText="x"), chunk("text-delta", id="zz", delta="a"),
                  finish=chunk("finish"))
    result = validate(parse_sse(sse(*stream)))
    with pytest.raises(ContractError, match="error may only be followed by `finish`"):
        check_confab_shape(result)


# --- bad streams: Confab's own promises -------------------------------------------------------------

FINISH = chunk("finish", finishReason="stop", messageMetadata={"usage": USAGE})
CONFAB_VIOLATIONS = {
    "first chunk not start": (TEXT_STEP + [FINISH], "first chunk must be `start`"),
    "start without messageId": ([chunk("start"), *TEXT_STEP, FINISH], "first chunk must be `start`"),
    "two starts": (turn(chunk("start", messageId="m2"), *TEXT_STEP), "in the middle"),
    "text outside a step": (turn(*TEXT_STEP[1:5]), "outside start-step"),
    "tool call outside a step": (turn(*TOOL_STEP[1:-1]), "outside start-step"),
    "nested steps": (turn(chunk("start-step"), *TEXT_STEP, chunk("finish-step")), "inside an unfinished step"),
    "finish-step without start-step": (turn(*TEXT_STEP, chunk("finish-step")), "without a start-step"),
    "text not ended before finish-step": (turn(*TEXT_STEP[:4], chunk("finish-step")), "not ended"),
    "reasoning not ended before finish-step": (
        turn(chunk("start-step"), chunk("reasoning-start", id="r"), chunk("finish-step")), "not ended"),
    "step not finished": (turn(*TEXT_STEP[:-1]), "step unfinished"),
    "no step at all": (turn(), "no step"),
    "last chunk not finish": (turn(*TEXT_STEP)[:-1], "last chunk must be `finish`"),
    "abort instead of finish": (turn(*TEXT_STEP)[:-1] + [chunk("abort")], "last chunk must be `finish`"),
    "two finishes": (turn(*TEXT_STEP[:-1], FINISH, chunk("finish-step")), "in the middle"),
    "error then finish-step": (turn(*TEXT_STEP[:3], chunk("error", errorText="x"), chunk("finish-step"),
                                    finish=chunk("finish")), "only be followed by `finish`"),
    "error in the middle": (turn(chunk("error", errorText="x"), *TEXT_STEP), "only be followed by `finish`"),
    "no usage on a finished turn": (turn(*TEXT_STEP, finish=chunk("finish", finishReason="stop")), "usage"),
    "usage at the top of metadata missing": (
        turn(*TEXT_STEP, finish=chunk("finish", messageMetadata={"tokens": USAGE})), "usage"),
    "usage not an object": (turn(*TEXT_STEP, finish=chunk("finish", messageMetadata={"usage": 15})), "object"),
    "usage count as a string": (
        turn(*TEXT_STEP, finish=chunk("finish", messageMetadata={"usage": {**USAGE, "total_tokens": "15"}})),
        "total_tokens"),
    "usage count as a bool": (
        turn(*TEXT_STEP, finish=chunk("finish", messageMetadata={"usage": {**USAGE, "prompt_tokens": True}})),
        "prompt_tokens"),
    "usage count missing": (
        turn(*TEXT_STEP, finish=chunk("finish", messageMetadata={"usage": {"total_tokens": 1}})), "prompt_tokens"),
    "estimated false": (
        turn(*TEXT_STEP, finish=chunk("finish", messageMetadata={"usage": {**USAGE, "estimated": False}})),
        "estimated"),
}


@pytest.mark.parametrize("chunks,message", CONFAB_VIOLATIONS.values(), ids=CONFAB_VIOLATIONS.keys())
def test_confab_shape_violations_are_refused(chunks, message):
    """Streams a strict client may take but that break what Confab promises."""
    result = validate(parse_sse(sse(*chunks)))
    with pytest.raises(ContractError, match=message):
        check_confab_shape(result)


@pytest.mark.parametrize("body,message", [
    (sse(*turn(*TEXT_STEP)).replace(b"data: [DONE]\n\n", b""), "do not end with"),
    (sse(*turn(*TEXT_STEP)) + b"data: [DONE]\n\n", "2 times"),
    (sse(chunk("start", messageId="m"), *TEXT_STEP[:3], "[DONE]", *TEXT_STEP[3:], FINISH), "2 times"),
])
def test_done_must_end_the_stream_once(body, message):
    """Confab ends every stream with exactly one [DONE], after the finish chunk."""
    with pytest.raises(ContractError, match=message):
        check_confab_shape(validate(parse_sse(body)))


def test_check_confab_shape_needs_validates_result():
    """A plain list has lost the payloads, so [DONE] could not be checked."""
    with pytest.raises(TypeError):
        check_confab_shape(turn(*TEXT_STEP))
