"""Helpers shared by the front-door suites (test_openwebui_client.py, test_openai_sdk.py): accounts,
Confab's own view of what was stored, and what the test upstream was asked.

Everything here reads what a user (or the model) would see over HTTP; nothing reaches into Redis.
"""
import time
import uuid

import requests

PASSWORD = "analytical-1"
TIMEOUT = 60
# Confab with cheap password hashing, for every test of these suites.
SETTINGS = dict(CONFAB_BCRYPT_COST=4)


def uniq(prefix="u"):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def register(base, username=None):
    """A new user; answers its first API key (`cfk_…`)."""
    r = requests.post(f"{base}/api/v1/auth/register",
                      json={"username": username or uniq("door_"), "password": PASSWORD}, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    key = r.json()["api_key"]["key"]
    assert key.startswith("cfk_"), key
    return key


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def make_agent(base, key, **fields):
    """One of the user's agents (from a template); answers it (`id` is `agt_…`)."""
    body = {"name": uniq("agent "), "template_id": "teacher", **fields}
    r = requests.post(f"{base}/api/v1/agents", headers=bearer(key), json=body, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    agent = r.json()
    assert agent["id"].startswith("agt_"), agent
    return agent


def sessions(base, key):
    """The user's sessions as Confab's own page lists them."""
    r = requests.get(f"{base}/chat/sessions", headers=bearer(key), params={"limit": 100}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()["sessions"]


def session_ids(base, key):
    return [s["id"] for s in sessions(base, key)]


def history(base, key, session_id):
    """The stored messages of a session, oldest first, as `(role, content)` pairs."""
    r = requests.get(f"{base}/chat/history", headers=bearer(key), params={"session_id": session_id}, timeout=TIMEOUT)
    assert r.status_code == 200, (session_id, r.status_code, r.text[:500])
    body = r.json()
    messages = [(m["role"], m["content"]) for m in body["messages"]]
    assert body["total"] == len(messages), body
    return messages


def upstream_last(upstream):
    """The body of the last chat request the test upstream streamed: the prompt Confab built."""
    r = requests.get(f"{upstream}/requests/last", timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def upstream_total(upstream):
    """How many chat streams the test upstream has served (Confab always streams from it)."""
    return requests.get(f"{upstream}/stats", timeout=TIMEOUT).json()["total"]


def upstream_active(upstream):
    return requests.get(f"{upstream}/stats", timeout=TIMEOUT).json()["active"]


def prompt_of(upstream):
    """The last prompt as `(role, content)` pairs (content None for a tool-calling assistant message)."""
    return [(m["role"], m.get("content")) for m in upstream_last(upstream)["messages"]]


def said_by(prompt, role):
    return [content for r, content in prompt if r == role]


def wait_for(condition, what, timeout=30):
    """Polls `condition` (a callable answering a truthy value) until it holds; answers its value."""
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def echo(text):
    """What the test upstream answers to a user message with no directives (and no padding)."""
    return "Echo: " + text


def settled_history(base, key, session_id, count, timeout=30):
    """The session's history once it holds at least `count` messages (a reply is stored as its turn
    ends, which may be just after the client saw the last byte)."""
    wait_for(lambda: len(history(base, key, session_id)) >= count, f"{count} stored messages in {session_id}", timeout)
    return history(base, key, session_id)
