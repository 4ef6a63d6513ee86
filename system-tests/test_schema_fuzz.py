"""Fuzzes the running service from its own OpenAPI document with schemathesis: no 5xx, every
response as documented, and afterwards Redis holds nothing for a request that was refused.
Schemathesis finds the sign-up and login in the document, registers a user and logs in first,
then sends that access token wherever the document allows bearerAuth (so the chat routes run
as a registered user, and a user_id that is not theirs is a 403). The document's links from
POST /chat/start (session_id and user_id of the reply) let the stateful phase stream, read,
clear and delete real sessions; those from POST /api/v1/agents and /api/v1/keys reach the
agent and key just made."""
import ast
import json
import os
import re
import subprocess

from conftest import ROOT, redis_cli, require

CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
    "response_schema_conformance", "negative_data_rejection", "unsupported_method", "allow_header_conformance",
    "use_after_free", "ensure_resource_availability",
])
# Not checked: positive_data_acceptance. user_id may come in the query or the body, which
# OpenAPI cannot say, so a request with neither is schema-valid and rightly refused (400).
# A long run: CONFAB_FUZZ_EXAMPLES=500 scripts/test.sh -k fuzz
EXAMPLES = os.environ.get("CONFAB_FUZZ_EXAMPLES", "40")


def session_of(conversation):
    """The session a `conv_` id names: 32 hex digits are a UUID without its dashes."""
    body = conversation[5:]
    if re.fullmatch(r"[0-9a-f]{32}", body):
        return "-".join((body[:8], body[8:12], body[12:16], body[16:20], body[20:]))
    return body


def test_fuzzing_from_the_openapi_document(redis_url, test_upstream, start_confab, tmp_path):
    schemathesis = require(os.path.join(ROOT, ".venv", "bin", "schemathesis"),
                           "run scripts/setup.sh --test (pip install schemathesis into .venv)")
    # A request limit the run never reaches, so the routes' own logic is fuzzed rather than
    # 429s (which stay documented; the login and registration limits are the defaults).
    base = start_confab(redis_url, test_upstream + "/v1", CONFAB_RATE_REQUESTS_PER_MINUTE=1_000_000)
    har = tmp_path / "fuzz.har"
    run = subprocess.run(
        [schemathesis, "run", f"{base}/openapi.json", "--checks", CHECKS, "--max-examples", EXAMPLES,
         "--phases", "examples,coverage,fuzzing,stateful", "--seed", "1", "--request-timeout", "10",
         "--report", "har", "--report-har-path", str(har), "--no-color"],
        capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]

    # Sessions exist only where POST /chat/start, PUT /chat/sessions/{id} or POST /api/chat
    # (which makes the chat id a session on first use) succeeded, or a door made one: Open WebUI's
    # POST /api/v1/chats/new, OpenAI's POST /v1/conversations and /v1/responses (its
    # conversation), and any completion kept in a session (the X-Confab-Session-Id it answers).
    # Users exist only where registration (the fuzzer's own sign-up included) or a tenant
    # owner's POST /api/v1/tenant/users said 201.
    created, users = set(), set()
    entries = json.loads(har.read_text())["log"]["entries"]
    assert len(entries) > 200, f"only {len(entries)} requests were made"
    for entry in entries:
        url, status = entry["request"]["url"], entry["response"]["status"]
        if url.split("?")[0].endswith(("/api/v1/auth/register", "/api/v1/tenant/users")) and status == 201:
            users.add(json.loads(entry["response"]["content"]["text"])["user"]["id"])
        elif "/chat/start" in url and status == 200:
            created.add(json.loads(entry["response"]["content"]["text"])["session_id"])
        elif re.search(r"/chat/sessions/[^/?]+", url) and entry["request"]["method"] == "PUT" and status in (200, 201):
            created.add(json.loads(entry["response"]["content"]["text"])["id"])
        elif url.split("?")[0].endswith("/api/chat") and status == 200:
            chat = json.loads(entry["request"]["postData"]["text"])["id"]
            created.add(chat.lower() if len(chat) == 36 else chat)  # UUIDs are kept lowercased
        elif url.split("?")[0].endswith("/api/v1/chats/new") and status == 200:
            created.add(json.loads(entry["response"]["content"]["text"])["id"])
        elif url.split("?")[0].endswith(("/v1/conversations", "/v1/responses")) and status == 200:
            created.update(session_of(conversation) for conversation in
                           re.findall(r'"(conv_[A-Za-z0-9]{16,64})"', entry["response"]["content"].get("text", "")))
        created.update(h["value"] for h in entry["response"]["headers"] if h["name"].lower() == "x-confab-session-id")
    streamed = [e for e in entries if "/chat/stream" in e["request"]["url"] and e["response"]["status"] == 200]
    assert streamed, "the stateful phase never streamed a turn in a session it created (links in /openapi.json?)"
    assert users, "the fuzzer never registered a user (is the sign-up in /openapi.json?)"
    # Quoted, one a line: login meters are named by whatever username was tried.
    keys = [ast.literal_eval("b" + line).decode("utf-8", "replace") for line in redis_cli(redis_url, "--no-raw", "--scan")]
    for key in keys:
        if re.fullmatch(r"confab:(usernames|\{t:ten_[a-z0-9]{16}\}:(tenant|members)|\{login(-ip)?:.*\}:[0-9]+|\{ticket:[0-9a-f]{64}\})", key, re.DOTALL):
            continue
        if re.fullmatch(r"confab:\{name:([a-z0-9_.-]{3,64})\}", key):
            assert redis_cli(redis_url, "GET", key)[0] in users, f"{key} names a user that was never registered"
            continue
        match = re.fullmatch(r"confab:\{u:(anon:[A-Za-z0-9_.@-]+|usr_[a-z0-9]{16})\}:(sessions|usage|account|keys|agents|note:openwebui-event"
                             r"|rate:(user|key:key_[a-z0-9]{10}):(req:[0-9]+|tok:[0-9]+|streams)"
                             r"|session:([0-9a-f-]{36}|[A-Za-z0-9]{16,64})(:messages)?)", key)
        assert match, f"unexpected key {key!r}"
        if not match.group(1).startswith("anon:"):
            assert match.group(1) in users, f"{key} belongs to a user that was never registered"
        if match.group(5):
            assert match.group(5) in created, f"{key} belongs to no session that was created"
        elif key.endswith(":sessions"):
            members = redis_cli(redis_url, "ZRANGE", key, "0", "-1")
            assert set(members) <= created, f"{key} lists sessions that were never created"
