"""A strict checker of the Vercel AI SDK "UI message stream v1", as the AI SDK's own client reads it.

The contract is /work/shared/reference/ai-sdk-ui-stream.md (read from the `ai` package's source).
Three layers, each a function:

- `parse_sse(raw)`: the `data` payloads exactly as eventsource-parser hands them to the client.
- `validate(payloads)`: what a strict client (ai 5.0.92-5.0.216 and 6.0.0-6.0.230, z.strictObject)
  rejects: bad JSON, the chunk schema, and the ordering rules of process-ui-message-stream.ts.
- `check_confab_shape(chunks)`: what Confab promises on top (start first, steps wrapped, usage, ...).

Every violation raises `ContractError` naming the payload index. Standard library only.
"""
import json

DONE = "[DONE]"
FINISH_REASONS = frozenset({"stop", "length", "content-filter", "tool-calls", "error", "other"})
# Which schema `validate` checks against:
#   "strict"  - what every strict client accepts (5.0.92-5.0.216 and 6.0.0-6.0.230): the default
#   "5.0.216" - the last strict 5.x; "6.0.0" - the first 6.x; "6.0.264" - loose (unknown keys pass)
VERSIONS = ("strict", "5.0.216", "6.0.0", "6.0.264")


class ContractError(Exception):
    """The stream breaks the contract; the message names the payload index and the rule."""


# --- 1. SSE framing --------------------------------------------------------------------------

def parse_sse(raw: bytes, strict: bool = True) -> list[str]:
    """The data payloads of an SSE body, as eventsource-parser v3 dispatches them.

    CR, LF and CRLF end lines; `:` comments and `event:`/`id:`/`retry:`/unknown fields are ignored;
    several `data:` lines join with "\\n"; a leading BOM is dropped (TextDecoder). A last event with
    no blank line after it is never dispatched (the parser has no flush); a lone CR at the very end
    is never taken as a line end. With `strict`, such a lost event and invalid UTF-8 raise
    ContractError; otherwise they are dropped / replaced as the client does.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        if strict:
            raise ContractError(f"the SSE body is not UTF-8 (byte {error.start})") from None
        text = raw.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    payloads, data, pos = [], None, 0
    while pos < len(text):
        cr, lf = text.find("\r", pos), text.find("\n", pos)
        if cr == -1 and lf == -1:
            break
        if lf == -1 and cr == len(text) - 1:
            break  # could be the first half of CRLF: eventsource-parser waits for more, which never comes
        end = min(i for i in (cr, lf) if i != -1)
        line, pos = text[pos:end], end + 1
        if text[end] == "\r" and text[pos:pos + 1] == "\n":
            pos += 1
        if line == "":
            if data is not None:
                payloads.append(data)
            data = None
        elif not line.startswith(":"):
            field, colon, value = line.partition(":")
            if colon and value.startswith(" "):
                value = value[1:]
            if field == "data":
                data = value if data is None else data + "\n" + value
    rest = text[pos:].replace("\r", "\n").split("\n")[0]
    if strict and (data is not None or rest.partition(":")[0] == "data"):
        raise ContractError(f"payload {len(payloads)}: the last event has no blank line after it, "
                            "so the AI SDK client never dispatches it")
    return payloads


# --- 2. The chunk schema ---------------------------------------------------------------------
# type -> {field: (kind, required, tag)}; kinds: str, bool, any (any JSON, key must be present),
# pm (providerMetadata: object of objects), tm (toolMetadata: object), reason (finishReason).
# tag "new": added after 6.0.0 (starred in the reference); tag "v6": not in 5.x at all.
R, O = True, False
_PM = {"providerMetadata": ("pm", O, None)}
_TOOL_OPTIONS = {"providerExecuted": ("bool", O, None), "dynamic": ("bool", O, None),
                 "toolMetadata": ("tm", O, "new")}
_TOOL_INPUT = {"toolCallId": ("str", R, None), "toolName": ("str", R, None), "input": ("any", R, None),
               **_PM, **_TOOL_OPTIONS, "title": ("str", O, "v6")}
_TOOL_OUTPUT = {"toolCallId": ("str", R, None), **_TOOL_OPTIONS, "providerMetadata": ("pm", O, "new")}
_PART = {"id": ("str", R, None), **_PM}
_DELTA = {**_PART, "delta": ("str", R, None)}

CHUNKS = {
    "start": {"messageId": ("str", O, None), "messageMetadata": ("any", O, None)},
    "finish": {"finishReason": ("reason", O, None), "messageMetadata": ("any", O, None)},
    "abort": {"reason": ("str", O, "new")},
    "error": {"errorText": ("str", R, None)},
    "message-metadata": {"messageMetadata": ("any", R, None)},
    "start-step": {},
    "finish-step": {},
    "text-start": _PART, "text-delta": _DELTA, "text-end": _PART,
    "reasoning-start": _PART, "reasoning-delta": _DELTA, "reasoning-end": _PART,
    "tool-input-start": {**{k: v for k, v in _TOOL_INPUT.items() if k != "input"},
                         "providerMetadata": ("pm", O, "new")},
    "tool-input-delta": {"toolCallId": ("str", R, None), "inputTextDelta": ("str", R, None)},
    "tool-input-available": _TOOL_INPUT,
    "tool-input-error": {**_TOOL_INPUT, "errorText": ("str", R, None)},
    "tool-approval-request": {"approvalId": ("str", R, None), "toolCallId": ("str", R, None),
                              "signature": ("str", O, "new")},
    "tool-output-available": {**_TOOL_OUTPUT, "output": ("any", R, None), "preliminary": ("bool", O, None)},
    "tool-output-error": {**_TOOL_OUTPUT, "errorText": ("str", R, None)},
    "tool-output-denied": {"toolCallId": ("str", R, None)},
    "source-url": {"sourceId": ("str", R, None), "url": ("str", R, None), "title": ("str", O, None), **_PM},
    "source-document": {"sourceId": ("str", R, None), "mediaType": ("str", R, None), "title": ("str", R, None),
                        "filename": ("str", O, None), **_PM},
    "file": {"url": ("str", R, None), "mediaType": ("str", R, None), **_PM},
}
DATA_CHUNK = {"id": ("str", O, None), "data": ("any", R, None), "transient": ("bool", O, None)}
V6_ONLY_TYPES = frozenset({"tool-approval-request", "tool-output-denied"})


def _fields(kind: str, version: str):
    """The fields `version` knows for chunk type `kind`, or None when it does not know the type."""
    if kind.startswith("data-"):
        return DATA_CHUNK
    if kind not in CHUNKS or (kind in V6_ONLY_TYPES and version in ("strict", "5.0.216")):
        return None
    dropped = {"strict": {"new", "v6"}, "5.0.216": {"new", "v6"}, "6.0.0": {"new"}, "6.0.264": set()}[version]
    return {name: spec for name, spec in CHUNKS[kind].items() if spec[2] not in dropped}


def _check_value(kind: str, value, version: str) -> str | None:
    """Why `value` is not a `kind`, or None when it is."""
    if kind == "str" and not isinstance(value, str):
        return "must be a string"
    if kind == "bool" and not isinstance(value, bool):
        return "must be true or false"
    if kind == "tm" and not isinstance(value, dict):
        return "must be a JSON object"
    if kind == "pm" and not (isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())):
        return "must be an object of objects"
    if kind == "reason":
        allowed = FINISH_REASONS | ({"unknown"} if version == "5.0.216" else set())
        if value not in allowed:
            return f"must be one of {sorted(allowed)}"
    return None


def _unsafe_key(value) -> str | None:
    """A key secure-json-parse refuses (`__proto__`, or `constructor` holding `prototype`)."""
    if isinstance(value, list):
        return next((bad for bad in map(_unsafe_key, value) if bad), None)
    if isinstance(value, dict):
        if "__proto__" in value:
            return "__proto__"
        if isinstance(value.get("constructor"), dict) and "prototype" in value["constructor"]:
            return "constructor.prototype"
        return next((bad for bad in map(_unsafe_key, value.values()) if bad), None)
    return None


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse_chunk(index: int, payload: str, version: str = "strict") -> dict:
    """One payload as the client's safeParseJSON + uiMessageChunkSchema sees it."""
    def fail(why):
        raise ContractError(f"payload {index} ({payload[:120]!r}): {why}")
    try:
        chunk = json.loads(payload, parse_constant=_refuse_constant)
    except ValueError as error:
        fail(f"not JSON ({error})")
    if not isinstance(chunk, dict):
        fail("a chunk must be a JSON object")
    if _unsafe_key(chunk):
        fail(f"secure-json-parse refuses the key {_unsafe_key(chunk)}")
    kind = chunk.get("type")
    if not isinstance(kind, str):
        fail("`type` is missing or not a string")
    fields = _fields(kind, version)
    if fields is None:
        fail(f"unknown chunk type {kind!r} for {version} clients")
    if version != "6.0.264":
        unknown = sorted(set(chunk) - set(fields) - {"type"})
        if unknown:
            fail(f"{kind}: unknown keys {unknown} (strict clients reject them)")
    for name, (value_kind, required, _) in fields.items():
        if name not in chunk:
            if required:
                fail(f"{kind}: the required key {name!r} is missing")
            continue
        if chunk[name] is None and not required:
            fail(f"{kind}: {name} is null; omit an optional key instead")
        why = _check_value(value_kind, chunk[name], version)
        if why:
            fail(f"{kind}: {name} {why}, got {chunk[name]!r}")
    return chunk


# --- 3. The client's ordering rules -----------------------------------------------------------

class Chunks(list):
    """`validate`'s result: the chunks in order ([DONE] left out); `.payloads` keeps the input."""

    def __init__(self, chunks, payloads, indexes):
        super().__init__(chunks)
        self.payloads = list(payloads)
        self.indexes = indexes  # payload index of each chunk


def validate(payloads: list[str], version: str = "strict") -> Chunks:
    """The payloads as chunks; raises ContractError on anything the `version` client rejects.

    `[DONE]` is skipped wherever it is (the client neither needs it nor stops at it). Ordering
    follows process-ui-message-stream.ts: text/reasoning deltas and ends need their open id,
    finish-step closes them all, tool-input-delta needs tool-input-start, tool outputs need a
    tool part with their toolCallId. The client stops at an `error` chunk, so no ordering rule
    applies after it; what follows is left for the caller (check_confab_shape) to judge.
    """
    if version not in VERSIONS:
        raise ValueError(f"version must be one of {VERSIONS}")
    indexed = [(i, parse_chunk(i, p, version)) for i, p in enumerate(payloads) if p != DONE]
    open_ids = {"text": set(), "reasoning": set()}
    started_inputs, tool_parts = set(), set()
    for index, chunk in indexed:
        kind = chunk["type"]

        def fail(why):
            raise ContractError(f"payload {index} ({kind}): {why}")
        family, _, phase = kind.partition("-")
        if family in open_ids and phase == "start":
            open_ids[family].add(chunk["id"])
        elif family in open_ids and phase in ("delta", "end"):
            if chunk["id"] not in open_ids[family]:
                fail(f"no open {family}-start with id {chunk['id']!r} (the client throws)")
            if phase == "end":
                open_ids[family].discard(chunk["id"])
        elif kind == "finish-step":
            open_ids["text"].clear()
            open_ids["reasoning"].clear()
        elif kind == "tool-input-start":
            started_inputs.add(chunk["toolCallId"])
            tool_parts.add(chunk["toolCallId"])
        elif kind == "tool-input-delta" and chunk["toolCallId"] not in started_inputs:
            fail(f"no tool-input-start for toolCallId {chunk['toolCallId']!r}")
        elif kind in ("tool-input-available", "tool-input-error"):
            tool_parts.add(chunk["toolCallId"])
        elif kind in ("tool-output-available", "tool-output-error", "tool-output-denied", "tool-approval-request"):
            if chunk["toolCallId"] not in tool_parts:
                fail(f'No tool invocation found for tool call ID "{chunk["toolCallId"]}"')
        elif kind == "error":
            break
    return Chunks([c for _, c in indexed], payloads, [i for i, _ in indexed])


# --- 4. What Confab promises on top -----------------------------------------------------------

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


def check_confab_shape(chunks: Chunks) -> None:
    """Confab's own promises, on `validate`'s result; raises ContractError.

    `start` (with messageId) first; every content chunk inside `start-step`/`finish-step`, steps
    not nested; text and reasoning parts ended before their `finish-step`; the last chunk is
    `finish`, with at most one `error` right before it; the payloads end with exactly one
    `[DONE]`; a turn without an error has at least one step and `finish.messageMetadata.usage`
    with int prompt/completion/total tokens (and `estimated: true` when estimated).
    """
    if not isinstance(chunks, Chunks):
        raise TypeError("check_confab_shape takes the result of validate()")
    payloads = chunks.payloads
    if not payloads or payloads[-1] != DONE:
        raise ContractError("the payloads do not end with [DONE]")
    if payloads.count(DONE) != 1:
        raise ContractError(f"[DONE] appears {payloads.count(DONE)} times; it must only end the stream")
    if not chunks or chunks[0]["type"] != "start" or not chunks[0].get("messageId"):
        raise ContractError("payload 0: the first chunk must be `start` with a messageId")
    last = len(chunks) - 1
    if chunks[last]["type"] != "finish":
        raise ContractError(f"payload {last}: the last chunk must be `finish`, got {chunks[last]['type']}")
    errors = [i for i, c in enumerate(chunks) if c["type"] == "error"]
    if errors and errors != [last - 1]:
        raise ContractError(f"payload {errors[0]}: an error may only be followed by `finish`")
    in_step, steps, open_parts = False, 0, set()
    for i, chunk in enumerate(chunks[1:last - len(errors)], start=1):
        kind = chunk["type"]
        if kind == "start-step":
            if in_step:
                raise ContractError(f"payload {i}: start-step inside an unfinished step")
            in_step, steps = True, steps + 1
        elif kind == "finish-step":
            if not in_step:
                raise ContractError(f"payload {i}: finish-step without a start-step")
            if open_parts:
                raise ContractError(f"payload {i}: finish-step while {sorted(open_parts)} are not ended")
            in_step = False
        elif kind in ("start", "finish", "abort"):
            raise ContractError(f"payload {i}: `{kind}` in the middle of a turn")
        elif kind != "message-metadata":
            if not in_step:
                raise ContractError(f"payload {i}: {kind} outside start-step/finish-step")
            family, _, phase = kind.partition("-")
            if family in ("text", "reasoning") and phase in ("start", "end"):
                (open_parts.add if phase == "start" else open_parts.discard)(f"{family}:{chunk['id']}")
    if not errors and (in_step or steps == 0):
        raise ContractError(f"payload {last}: finish with " + ("a step unfinished" if in_step else "no step"))
    metadata = chunks[last].get("messageMetadata")
    usage = metadata.get("usage") if isinstance(metadata, dict) else None
    if usage is None and not errors:
        raise ContractError(f"payload {last}: a finished turn needs finish.messageMetadata.usage")
    if usage is not None:
        if not isinstance(usage, dict):
            raise ContractError(f"payload {last}: usage must be an object, got {usage!r}")
        for key in USAGE_KEYS:
            if not isinstance(usage.get(key), int) or isinstance(usage[key], bool) or usage[key] < 0:
                raise ContractError(f"payload {last}: usage.{key} must be a whole number >= 0, got {usage.get(key)!r}")
        if "estimated" in usage and usage["estimated"] is not True:
            raise ContractError(f"payload {last}: usage.estimated is only ever true, got {usage['estimated']!r}")


# --- Helpers for tests -------------------------------------------------------------------------

def text_of(chunks) -> str:
    """The text a user sees: every text-delta joined."""
    return "".join(c["delta"] for c in chunks if c["type"] == "text-delta")


def steps_of(chunks) -> list[list[dict]]:
    """The chunks of each step, between start-step and finish-step (those two left out)."""
    steps, current = [], None
    for chunk in chunks:
        if chunk["type"] == "start-step":
            current = []
        elif chunk["type"] == "finish-step" and current is not None:
            steps.append(current)
            current = None
        elif current is not None:
            current.append(chunk)
    return steps
