"""Fuzzes the running service from its own OpenAPI document with schemathesis: no 5xx, every
response as documented, and afterwards Redis holds nothing for a request that was refused.
The document's links from POST /chat/start (session_id and user_id of the reply) let the
stateful phase stream, read, clear and delete real sessions."""
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


def test_fuzzing_from_the_openapi_document(redis_url, test_upstream, start_confab, tmp_path):
    schemathesis = require(os.path.join(ROOT, ".venv", "bin", "schemathesis"),
                           "run scripts/setup.sh --test (pip install schemathesis into .venv)")
    base = start_confab(redis_url, test_upstream + "/v1")
    har = tmp_path / "fuzz.har"
    run = subprocess.run(
        [schemathesis, "run", f"{base}/openapi.json", "--checks", CHECKS, "--max-examples", EXAMPLES,
         "--phases", "examples,coverage,fuzzing,stateful", "--seed", "1", "--request-timeout", "10",
         "--report", "har", "--report-har-path", str(har), "--no-color"],
        capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]

    # Sessions exist only where POST /chat/start said 200.
    # Sessions exist only where POST /chat/start, PUT /chat/sessions/{id} or POST /api/chat
    # (which makes the chat id a session on first use) succeeded.
    created = set()
    entries = json.loads(har.read_text())["log"]["entries"]
    assert len(entries) > 200, f"only {len(entries)} requests were made"
    for entry in entries:
        url, status = entry["request"]["url"], entry["response"]["status"]
        if "/chat/start" in url and status == 200:
            created.add(json.loads(entry["response"]["content"]["text"])["session_id"])
        elif re.search(r"/chat/sessions/[^/?]+", url) and entry["request"]["method"] == "PUT" and status in (200, 201):
            created.add(json.loads(entry["response"]["content"]["text"])["id"])
        elif url.split("?")[0].endswith("/api/chat") and status == 200:
            chat = json.loads(entry["request"]["postData"]["text"])["id"]
            created.add(chat.lower() if len(chat) == 36 else chat)  # UUIDs are kept lowercased
    streamed = [e for e in entries if "/chat/stream" in e["request"]["url"] and e["response"]["status"] == 200]
    assert streamed, "the stateful phase never streamed a turn in a session it created (links in /openapi.json?)"
    keys = redis_cli(redis_url, "--scan")
    for key in keys:
        match = re.fullmatch(r"confab:\{u:anon:[A-Za-z0-9_.@-]+\}:(sessions|usage|session:([0-9a-f-]{36}|[A-Za-z0-9]{16,64})(:messages)?)", key)
        assert match, f"unexpected key {key!r}"
        if match.group(2):
            assert match.group(2) in created, f"{key} belongs to no session that was created"
        elif key.endswith(":sessions"):
            members = redis_cli(redis_url, "ZRANGE", key, "0", "-1")
            assert set(members) <= created, f"{key} lists sessions that were never created"
