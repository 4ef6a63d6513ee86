"""Identity end to end: accounts, tenants, API keys, access tokens, agents, rate limits and the
administrator's clean-up, against a real redis-server, real Confab processes and the test upstream.

- `test_isolation_matrix` calls every route as every kind of caller on what user A owns (a session
  with messages, an agent, a second API key, a debug capture) and checks the status, that none of
  A's data shows in the answer, and, for everyone but A, that A's data in Redis is as it was.
- Then the attacks, two instances on one Redis, required mode, the clean-up, and agents in chats.

"Nothing written" compares a snapshot of Redis (every key with its value) taken before and after
a refused request. The snapshot leaves out the meters, which count requests by design: rate-limit
counters and stream slots (`…:rate:…`) and login-attempt counters (`confab:{login…}`).
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import socket
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from typing import Optional
from urllib.parse import quote, urlencode, urlsplit

import pytest
import requests

from conftest import BUILD, ROOT, Proc, free_port, redis_cli, require

ADMIN_TOKEN = "admin-token-" + "k" * 24
JWT_SECRET = "jwt-secret-for-the-identity-tests-" + "s" * 16
PASSWORD = "correct-horse-9"
TIMEOUT = 30
SETTINGS = dict(CONFAB_ADMIN_TOKEN=ADMIN_TOKEN, CONFAB_BCRYPT_COST=4, CONFAB_JWT_SECRET=JWT_SECRET)
# A reply that streams for ~8 s: holds a stream slot until the client leaves.
SLOW = "hold [[tokens=400]] [[delay=20]]"
TEMPLATES = ("friendly-assistant", "professional-expert", "creative-partner", "caring-friend", "efficient-assistant",
             "assistant", "teacher", "programmer")


# --- Helpers -------------------------------------------------------------------------------------

def uniq(prefix):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@dataclass
class User:
    id: str
    username: str
    tenant_id: str
    role: str
    key: str
    key_id: str
    key_prefix: str
    token: Optional[str] = None
    email: Optional[str] = None

    @property
    def h(self):
        return bearer(self.key)

    @classmethod
    def of(cls, reply):
        user, key = reply["user"], reply["api_key"]
        return cls(id=user["id"], username=user["username"], tenant_id=user["tenant_id"], role=user["role"], key=key["key"],
                   key_id=key["id"], key_prefix=key["prefix"], token=reply.get("access_token"), email=user.get("email"))


def register(base, username=None, password=PASSWORD, **extra):
    body = {"username": username or uniq("user_"), "password": password, **extra}
    r = requests.post(f"{base}/api/v1/auth/register", json=body, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return User.of(r.json())


def add_member(base, owner, username=None):
    r = requests.post(f"{base}/api/v1/tenant/users", headers=owner.h,
                      json={"username": username or uniq("member_"), "password": PASSWORD}, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return User.of(r.json())


def error_code(response):
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def assert_error(response, status, code=None, text=None):
    text = response.text if text is None else text
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.status_code} {text[:500]}"
    if code is not None:
        assert error_code(response) == code, text[:500]


def assert_unauthorized(response, code="invalid_credentials"):
    assert_error(response, 401, code)
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), response.headers


def assert_streams_limited(response, limit):
    """A refusal for streams at once: 429 with Retry-After; the x-ratelimit-* headers stay the
    request meter's (streams have none of their own)."""
    assert_error(response, 429, "rate_limit_exceeded")
    text = response.text
    assert f"at most {limit} streams at once" in text, text
    retry = response.headers.get("Retry-After")
    assert retry is not None and 1 <= int(retry) <= 60, response.headers
    assert response.headers.get("x-ratelimit-remaining-requests") != "0", response.headers


def assert_rate_limited(response, limit, kind="requests"):
    assert_error(response, 429, "rate_limit_exceeded")
    retry = response.headers.get("Retry-After")
    assert retry is not None and 1 <= int(retry) <= 60, response.headers
    assert response.headers.get(f"x-ratelimit-limit-{kind}") == str(limit), response.headers
    assert response.headers.get(f"x-ratelimit-remaining-{kind}") == "0", response.headers
    assert response.headers.get(f"x-ratelimit-reset-{kind}", "").endswith("s"), response.headers


def query(**params):
    """A query string with spaces as %20 (the page's encodeURIComponent), never `+`."""
    return urlencode({k: v for k, v in params.items() if v is not None}, quote_via=quote)


def sse_data(text):
    return [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]


def reply_text(text):
    """The text of a Confab stream: its `{"content": …}` events joined."""
    pieces = []
    for data in sse_data(text):
        if data != "[DONE]":
            event = json.loads(data)
            if "content" in event and "type" not in event:
                pieces.append(event["content"])
    return "".join(pieces)


def stream(base, headers, session, message, **params):
    """`GET /chat/stream`, read to its end: (status, body text, response)."""
    url = f"{base}/chat/stream?" + query(session_id=session, message=message, **params)
    with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT) as r:
        return r.status_code, r.text, r


def open_stream(base, headers, session, message, **params):
    """`GET /chat/stream` left open: the caller closes it."""
    url = f"{base}/chat/stream?" + query(session_id=session, message=message, **params)
    return requests.get(url, headers=headers, stream=True, timeout=TIMEOUT)


def chat(base, user, message="hello"):
    """A session of `user` with one whole turn in it: its id."""
    session = start_session(base, user.h)
    status, text, _ = stream(base, user.h, session, message)
    assert status == 200, text
    assert reply_text(text) == f"Echo: {message}", text
    return session


def start_session(base, headers, **body):
    r = requests.post(f"{base}/chat/start", headers=headers, json=body, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()["session_id"]


def make_agent(base, user, **fields):
    body = {"name": uniq("agent "), "template_id": "teacher", **fields}
    r = requests.post(f"{base}/api/v1/agents", headers=user.h, json=body, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


def make_key(base, user, **body):
    r = requests.post(f"{base}/api/v1/keys", headers=user.h, json=body, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    return r.json()


def me(base, headers):
    return requests.get(f"{base}/api/v1/me", headers=headers, timeout=TIMEOUT)


def sessions(base, headers):
    """A request the request meter refuses when spent (unlike /api/v1/me and the key routes,
    which are counted but always answered, so a flooded key can still be revoked)."""
    return requests.get(f"{base}/chat/sessions", headers=headers, timeout=TIMEOUT)


SNAPSHOT_SCRIPT = r"""
local out = {}
for _, pattern in ipairs(ARGV) do
  local keys = redis.call('KEYS', pattern)
  table.sort(keys)
  for _, k in ipairs(keys) do
    if not string.find(k, ':rate:', 1, true) and not string.find(k, 'confab:{login', 1, true) then
      local t = redis.call('TYPE', k)['ok']
      local v = {}
      if t == 'string' then v = {redis.call('GET', k)}
      elseif t == 'hash' then
        local flat = redis.call('HGETALL', k)
        for i = 1, #flat, 2 do v[#v + 1] = flat[i] .. '=' .. flat[i + 1] end
        table.sort(v)
      elseif t == 'list' then v = redis.call('LRANGE', k, 0, -1)
      elseif t == 'set' then v = redis.call('SMEMBERS', k); table.sort(v)
      elseif t == 'zset' then v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES') end
      out[#out + 1] = k .. ' (' .. t .. ') ' .. table.concat(v, ' | ')
    end
  end
end
return out
"""


def snapshot(redis_url, *patterns):
    """Every key matching the patterns (default: all of Confab's) with its value, meters left out."""
    return redis_cli(redis_url, "EVAL", SNAPSHOT_SCRIPT, "0", *(patterns or ("confab:*",)))


def assert_same(before, after, what):
    if before != after:
        gone, new = sorted(set(before) - set(after)), sorted(set(after) - set(before))
        pytest.fail(f"{what}: Redis changed\n  before only: {gone[:10]}\n  after only: {new[:10]}")


def redis_keys(redis_url, pattern):
    return redis_cli(redis_url, "KEYS", pattern)


def wait_idle(redis_url, timeout=30):
    """Until no turn holds a session lock: every reply stored, every stream slot freed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not redis_keys(redis_url, "confab:*:lock"):
            return
        time.sleep(0.05)
    pytest.fail(f"a turn still holds its lock after {timeout} s: {redis_keys(redis_url, 'confab:*:lock')}")


def minute_with_room(redis_url, seconds=15):
    """Waits (on Redis's clock) until the current minute, the rate limits' window, has `seconds`
    left, so that a test's requests all count in one window; answers the window."""
    deadline = time.time() + 75
    while time.time() < deadline:
        now = int(redis_cli(redis_url, "TIME")[0])
        if 60 - now % 60 >= seconds:
            return now // 60
        time.sleep(0.2)
    pytest.fail("Redis's clock did not move")


def upstream_total(upstream):
    return requests.get(f"{upstream}/stats", timeout=TIMEOUT).json()["total"]


def wait_upstream_active(upstream, count, timeout=30):
    """Until the test upstream streams `count` replies at once (Confab answers a stream's headers
    before its model request is made)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if requests.get(f"{upstream}/stats", timeout=TIMEOUT).json()["active"] == count:
            return
        time.sleep(0.05)
    pytest.fail(f"the upstream never streamed {count} replies at once: {requests.get(f'{upstream}/stats').text}")


def upstream_last(upstream):
    return requests.get(f"{upstream}/requests/last", timeout=TIMEOUT).json()


@pytest.fixture
def confab(redis_url, test_upstream, start_confab):
    return start_confab(redis_url, test_upstream + "/v1", **SETTINGS)


# --- JWTs made by hand (PyJWT is not in .venv) ------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt(claims, secret=JWT_SECRET, alg="HS256", header=None):
    header = header or {"alg": alg, "typ": "JWT"}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}.get(alg, hashlib.sha256)
    signature = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return signing_input + "." + b64url(signature)


def claims_for(user_id, lifetime=300, **extra):
    now = int(time.time())
    return {"sub": user_id, "iss": "confab", "iat": now, "exp": now + lifetime, **extra}


# --- 1. The isolation matrix ------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    """A route called on A's resources. `expect` maps a kind of caller to its status, or
    (status, error code): `a` (A's key or access token), `b`, `m` (a member of A's tenant),
    `other` (b or m), `anon` (no credentials, no user_id), `anon_as` (no credentials, user_id
    set to A's id or username), `admin`. Placeholders in the path, query and body are filled per
    row (`{session}` is A's session, `{agent}` A's agent, `{key2}` A's second key, ...)."""
    name: str
    method: str
    path: str
    expect: dict
    query: dict = field(default_factory=dict)
    body: object = None
    # What a 2xx makes for the caller (removed after the row): new_session, own_session (the
    # caller's own session under the id of A's), key, agent, user, persona (A's session's agent).
    creates: Optional[str] = None
    # A's own 2xx changes A's data (so A's data is not compared for A's rows).
    writes: bool = False
    # What A must see of its own data in a 2xx answer (World attributes).
    shows: tuple = ()
    # A's data the caller names itself, so the answer may hold it (its own session under that id).
    echoes: tuple = ()
    streams: bool = False


UI_BODY = {"id": "{session}", "messages": [{"id": "msg1", "role": "user", "parts": [{"type": "text", "text": "{probe}"}]}]}
CHAT = ("a_key", "a_token", "b", "m", "anon", "anon_id", "anon_name", "admin")
ACCOUNT = ("a_key", "a_token", "b", "m", "anon", "admin")
ADMIN_ONLY = (403, "admin_token_not_a_user")
NO_UID = (400, "missing_parameter")
NO_CREDS = (401, "credentials_required")
NO_SESSION = (404, "session_not_found")
NO_AGENT = (404, "agent_not_found")
NOT_ADMIN = (403, "admin_only")
NOT_OWNER = (403, "not_tenant_owner")

CHAT_ROUTES = [
    Route("start", "POST", "/chat/start", dict(a=200, other=200, anon=NO_UID, anon_as=200, admin=ADMIN_ONLY),
          body={}, creates="new_session", writes=True),
    Route("start-agent", "POST", "/chat/start", dict(a=200, other=NO_AGENT, anon=NO_UID, anon_as=NO_AGENT, admin=ADMIN_ONLY),
          body={"agent_id": "{agent}"}, creates="new_session", writes=True, shows=("agent",)),
    Route("stream", "GET", "/chat/stream", dict(a=200, other=NO_SESSION, anon=NO_UID, anon_as=NO_SESSION, admin=ADMIN_ONLY),
          query={"session_id": "{session}", "message": "{probe}"}, writes=True, streams=True),
    Route("stream-agent", "GET", "/chat/stream", dict(a=200, other=NO_AGENT, anon=NO_UID, anon_as=NO_AGENT, admin=ADMIN_ONLY),
          query={"session_id": "{session}", "message": "{probe}", "agent_id": "{agent}"}, writes=True, streams=True),
    Route("stream-post", "POST", "/chat/stream", dict(a=200, other=NO_SESSION, anon=NO_UID, anon_as=NO_SESSION, admin=ADMIN_ONLY),
          body={"session_id": "{session}", "message": "{probe}"}, writes=True, streams=True),
    Route("history", "GET", "/chat/history", dict(a=200, other=NO_SESSION, anon=NO_UID, anon_as=NO_SESSION, admin=ADMIN_ONLY),
          query={"session_id": "{session}"}, shows=("secret",)),
    Route("sessions", "GET", "/chat/sessions", dict(a=200, other=200, anon=NO_UID, anon_as=200, admin=ADMIN_ONLY),
          shows=("session", "title")),
    Route("session", "GET", "/chat/sessions/{session}", dict(a=200, other=NO_SESSION, anon=NO_UID, anon_as=NO_SESSION, admin=ADMIN_ONLY),
          shows=("title",)),
    Route("session-put", "PUT", "/chat/sessions/{session}", dict(a=200, other=201, anon=NO_UID, anon_as=201, admin=ADMIN_ONLY),
          body={"title": "{put_title}"}, creates="own_session", writes=True, echoes=("session",)),
    Route("session-put-agent", "PUT", "/chat/sessions/{session}",
          dict(a=200, other=NO_AGENT, anon=NO_UID, anon_as=NO_AGENT, admin=ADMIN_ONLY),
          body={"agent_id": "{agent}"}, creates="persona", writes=True),
    Route("session-delete", "DELETE", "/chat/sessions/{session}",
          dict(a=200, other=NO_SESSION, anon=NO_UID, anon_as=NO_SESSION, admin=ADMIN_ONLY), writes=True),
    Route("sessions-delete", "DELETE", "/chat/sessions", dict(a=200, other=200, anon=NO_UID, anon_as=200, admin=ADMIN_ONLY),
          writes=True),
    Route("history-delete", "DELETE", "/chat/history/{session}",
          dict(a=200, other=NO_SESSION, anon=NO_UID, anon_as=NO_SESSION, admin=ADMIN_ONLY), writes=True),
    Route("usage", "GET", "/chat/usage", dict(a=200, other=200, anon=NO_UID, anon_as=200, admin=ADMIN_ONLY)),
    Route("ui-chat", "POST", "/api/chat", dict(a=200, other=200, anon=NO_UID, anon_as=200, admin=ADMIN_ONLY),
          body=UI_BODY, creates="own_session", writes=True, echoes=("session",), streams=True),
    Route("debug", "GET", "/chat/debug/{debug}",
          dict(a=200, other=(404, "capture_not_found"), anon=NO_UID, anon_as=(404, "capture_not_found"), admin=ADMIN_ONLY),
          shows=("secret",)),
]

ACCOUNT_ROUTES = [
    Route("me", "GET", "/api/v1/me", dict(a=200, other=200, anon=NO_CREDS, admin=ADMIN_ONLY), shows=("email",)),
    Route("ticket", "POST", "/api/v1/auth/ticket", dict(a=201, other=201, anon=NO_CREDS, admin=ADMIN_ONLY)),
    Route("key-create", "POST", "/api/v1/keys", dict(a=201, other=201, anon=NO_CREDS, admin=ADMIN_ONLY),
          body={"name": "probe key"}, creates="key", writes=True),
    Route("keys", "GET", "/api/v1/keys", dict(a=200, other=200, anon=NO_CREDS, admin=ADMIN_ONLY), shows=("key2",)),
    Route("key-delete", "DELETE", "/api/v1/keys/{key2}", dict(a=200, other=(404, "key_not_found"), anon=NO_CREDS, admin=ADMIN_ONLY),
          writes=True),
    Route("templates", "GET", "/api/v1/agents/templates", dict(a=200, other=200, anon=200, admin=200)),
    Route("agent-create", "POST", "/api/v1/agents", dict(a=201, other=201, anon=NO_CREDS, admin=ADMIN_ONLY),
          body={"name": "probe agent", "template_id": "teacher"}, creates="agent", writes=True),
    Route("agents", "GET", "/api/v1/agents", dict(a=200, other=200, anon=NO_CREDS, admin=ADMIN_ONLY), shows=("agent", "agent_name")),
    Route("agent", "GET", "/api/v1/agents/{agent}", dict(a=200, other=NO_AGENT, anon=NO_CREDS, admin=ADMIN_ONLY),
          shows=("agent_name", "persona")),
    Route("agent-patch", "PATCH", "/api/v1/agents/{agent}", dict(a=200, other=NO_AGENT, anon=NO_CREDS, admin=ADMIN_ONLY),
          body={"name": "{patch_name}"}, writes=True),
    Route("agent-delete", "DELETE", "/api/v1/agents/{agent}", dict(a=200, other=NO_AGENT, anon=NO_CREDS, admin=ADMIN_ONLY),
          writes=True),
    Route("tenant-add", "POST", "/api/v1/tenant/users", dict(a=201, b=201, m=NOT_OWNER, anon=NO_CREDS, admin=ADMIN_ONLY),
          body={"username": "{fresh_name}", "password": PASSWORD}, creates="user", writes=True),
    Route("tenant-stats", "GET", "/api/v1/tenant/stats", dict(a=200, b=200, m=NOT_OWNER, anon=NO_CREDS, admin=ADMIN_ONLY),
          shows=("tenant",)),
    Route("admin-user", "DELETE", "/api/v1/admin/users/{target_user}", dict(a=NOT_ADMIN, other=NOT_ADMIN, anon=NO_CREDS, admin=200)),
    Route("admin-tenant", "DELETE", "/api/v1/admin/tenants/{target_tenant}",
          dict(a=NOT_ADMIN, other=NOT_ADMIN, anon=NO_CREDS, admin=200)),
    Route("admin-prefix", "DELETE", "/api/v1/admin/users", dict(a=NOT_ADMIN, other=NOT_ADMIN, anon=NO_CREDS, admin=200),
          query={"prefix": "{target_prefix}"}),
]


def kind_of(caller):
    return {"a_key": "a", "a_token": "a", "anon_id": "anon_as", "anon_name": "anon_as"}.get(caller, caller)


def expected(route, caller):
    kind = kind_of(caller)
    value = route.expect.get(kind)
    if value is None and kind in ("b", "m"):
        value = route.expect.get("other")
    if value is None and kind == "anon_as":
        value = route.expect["anon"]
    return value if isinstance(value, tuple) else (value, None)


MATRIX = [(caller, route) for route in CHAT_ROUTES for caller in CHAT] + \
         [(caller, route) for route in ACCOUNT_ROUTES for caller in ACCOUNT]


def row_id(row):
    caller, route = row
    status, _ = expected(route, caller)
    suffix = "?" + "&".join(route.query) if route.query else ""
    return f"{caller}-{route.method}-{route.path}{suffix}-{status}"


class Lazy(dict):
    def __init__(self, make):
        super().__init__()
        self.make = make

    def __missing__(self, key):
        self[key] = value = self.make(key)
        return value


class World:
    """One Redis, one Confab and the test upstream for the whole matrix. A owns a tenant with a
    member M; B owns another. A's session (with a turn whose text is secret), agent and second
    key are made again (new ids) after a row of A's deletes them."""

    def __init__(self, base, redis_url, upstream):
        self.base, self.redis, self.upstream = base, redis_url, upstream
        self.a = register(base, uniq("alpha_"), email=f"{uniq('alpha')}@example.com")
        self.b = register(base, uniq("bravo_"))
        self.m = add_member(base, self.a, uniq("mike_"))
        self.secret, self.title = uniq("alphasecret"), uniq("alphatitle")
        self.agent_name, self.persona = uniq("alphaagent"), uniq("alphapersona")
        self.key2_name = uniq("alphakey")
        self.session = self.debug = self.agent = self.key2 = self.key2_prefix = None
        self.tag = f"confab:{{u:{self.a.id}}}"
        a, b, m = self.a, self.b, self.m
        self.callers = {"a_key": (a.h, None), "a_token": (bearer(a.token), None), "b": (b.h, None), "m": (m.h, None),
                        "anon": ({}, None), "anon_id": ({}, a.id), "anon_name": ({}, a.username),
                        "admin": (bearer(ADMIN_TOKEN), None)}

    def exists(self, *args):
        return redis_cli(self.redis, *args) == ["1"]

    def ensure(self):
        """A's session (titled, with a stored turn and its debug capture), agent and second key."""
        a, tag, base = self.a, self.tag, self.base
        if not self.session or not self.exists("EXISTS", f"{tag}:session:{self.session}"):
            self.session, self.debug = start_session(base, a.h), None
        if redis_cli(self.redis, "HGET", f"{tag}:session:{self.session}", "title") != [self.title]:
            r = requests.put(f"{base}/chat/sessions/{self.session}", headers=a.h, json={"title": self.title}, timeout=TIMEOUT)
            assert r.status_code == 200, r.text
        messages = int(redis_cli(self.redis, "LLEN", f"{tag}:session:{self.session}:messages")[0])
        if messages < 2 or not self.debug or not self.exists("EXISTS", f"{tag}:debug:{self.debug}"):
            status, text, _ = stream(base, a.h, self.session, self.secret, role="assistant")
            assert status == 200 and reply_text(text) == f"Echo: {self.secret}", text
            wait_idle(self.redis)
            history = requests.get(f"{base}/chat/history", headers=a.h, params={"session_id": self.session}, timeout=TIMEOUT).json()
            self.debug = [m for m in history["messages"] if m["role"] == "assistant"][-1]["id"]
            assert self.exists("EXISTS", f"{tag}:debug:{self.debug}")
        if not self.agent or not self.exists("HEXISTS", f"{tag}:agents", self.agent):
            self.agent = make_agent(base, a, name=self.agent_name, persona=self.persona, temperature=0.25)["id"]
        if not self.key2 or not self.exists("HEXISTS", f"{tag}:keys", self.key2):
            made = make_key(base, a, name=self.key2_name)
            self.key2, self.key2_prefix = made["id"], made["prefix"]

    def a_data(self):
        """A's data in Redis: everything under A's tag, A's name, A's tenant."""
        a = self.a
        return (snapshot(self.redis, f"{self.tag}:*", f"confab:{{name:{a.username.lower()}}}", f"confab:{{t:{a.tenant_id}}}:*"),
                redis_cli(self.redis, "ZSCORE", "confab:usernames", a.username.lower()))

    def markers(self, caller, route):
        """A's data, by name, that must not show in an answer to `caller`."""
        a = self.a
        found = {"A's session id": self.session, "A's session title": self.title, "A's message": self.secret,
                 "A's reply id": self.debug, "A's agent id": self.agent, "A's agent name": self.agent_name,
                 "A's agent persona": self.persona, "A's second key id": self.key2, "A's second key name": self.key2_name,
                 "A's second key prefix": self.key2_prefix, "A's key prefix": a.key_prefix, "A's key": a.key,
                 "A's access token": a.token, "A's email": a.email}
        if caller in ("b", "admin", "anon"):
            # M belongs to A's tenant (its /me names it and its owner); an anonymous caller
            # named A's id itself.
            found.update({"A's tenant id": a.tenant_id, "A's user id": a.id})
        if "session" in route.echoes:
            del found["A's session id"]
        return found

    def shown(self, name):
        return {"session": self.session, "title": self.title, "secret": self.secret, "agent": self.agent,
                "agent_name": self.agent_name, "persona": self.persona, "key2": self.key2, "email": self.a.email,
                "tenant": self.a.tenant_id}[name]

    def values(self, caller, state):
        a_caller = kind_of(caller) == "a"

        def make(name):
            if name in ("session", "agent", "key2", "debug", "title"):
                return getattr(self, name)
            if name == "probe":
                return uniq("probe")
            if name == "put_title":
                return self.title if a_caller else uniq("probetitle")
            if name == "patch_name":
                return self.agent_name if a_caller else "hijacked"
            if name == "fresh_name":
                return uniq("newbie_")
            if name.startswith("target_"):
                if caller != "admin":
                    return {"target_user": self.a.id, "target_tenant": self.a.tenant_id, "target_prefix": self.a.username}[name]
                prefix = uniq("victim") + "_"
                victim = state["victim"] = register(self.base, prefix + "1")
                return {"target_user": victim.id, "target_tenant": victim.tenant_id, "target_prefix": prefix}[name]
            raise KeyError(name)
        return Lazy(make)

    @staticmethod
    def fill(value, values):
        if isinstance(value, str):
            return value.format_map(values)
        if isinstance(value, dict):
            return {k: World.fill(v, values) for k, v in value.items()}
        if isinstance(value, list):
            return [World.fill(v, values) for v in value]
        return value

    def own_id(self, caller):
        return {"a_key": self.a.id, "a_token": self.a.id, "b": self.b.id, "m": self.m.id, "anon_id": self.a.id,
                "anon_name": self.a.username}.get(caller)

    def cleanup(self, caller, route, response, values):
        headers, user_id = self.callers[caller]
        params = {"user_id": user_id} if user_id else {}
        if response is None or not 200 <= response.status_code < 300 or route.creates is None:
            return
        wait_idle(self.redis)
        made = route.creates
        if made == "new_session":
            r = requests.delete(f"{self.base}/chat/sessions/{response.json()['session_id']}", headers=headers, params=params, timeout=TIMEOUT)
        elif made == "own_session" and kind_of(caller) != "a":
            r = requests.delete(f"{self.base}/chat/sessions/{values['session']}", headers=headers, params=params, timeout=TIMEOUT)
        elif made == "persona":
            r = requests.put(f"{self.base}/chat/sessions/{values['session']}", headers=headers, json={"persona": "assistant"},
                             timeout=TIMEOUT)
        elif made == "key":
            r = requests.delete(f"{self.base}/api/v1/keys/{response.json()['id']}", headers=headers, timeout=TIMEOUT)
        elif made == "agent":
            r = requests.delete(f"{self.base}/api/v1/agents/{response.json()['id']}", headers=headers, timeout=TIMEOUT)
        elif made == "user":
            r = requests.delete(f"{self.base}/api/v1/admin/users/{response.json()['user']['id']}", headers=bearer(ADMIN_TOKEN),
                                timeout=TIMEOUT)
        else:
            return
        assert r.status_code == 200, f"clean-up of {made}: {r.status_code} {r.text}"


def start_stack(procs, **settings):
    """redis-server, the test upstream and Confab, for a module-wide fixture (the conftest
    fixtures are per test): (base URL, Redis URL, upstream URL)."""
    port = free_port()
    data = tempfile.mkdtemp(prefix="confab-redis-")
    procs.append(Proc("redis", [require("redis-server", "apt-get install -y redis-server"), "--port", str(port),
                                "--bind", "127.0.0.1", "--save", "", "--dir", data]))
    deadline = time.time() + 10
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    redis_url = f"redis://127.0.0.1:{port}"
    up_port = free_port()
    upstream = Proc("upstream", [require(os.path.join(BUILD, "confab-test-upstream"), "run `swift build` first"), "--port",
                                 str(up_port), "--first-token-delay-ms", "50", "--token-delay-ms", "40"])
    procs.append(upstream)
    upstream.wait_http(f"http://127.0.0.1:{up_port}/stats")
    confab_port = free_port()
    env = dict(os.environ, CONFAB_PORT=str(confab_port), REDIS_URL=redis_url, OPENAI_BASE_URL=f"http://127.0.0.1:{up_port}/v1",
               CONFAB_STATIC_DIR=os.path.join(ROOT, "static"), CONFAB_LOG_LEVEL="warning")
    env.update({k: str(v) for k, v in settings.items()})
    confab = Proc("confab", [require(os.path.join(BUILD, "confab"), "run `swift build` first"), "serve", "--env-file", "/nonexistent"],
                  env=env)
    procs.append(confab)
    confab.wait_http(f"http://127.0.0.1:{confab_port}/health")
    return f"http://127.0.0.1:{confab_port}", redis_url, f"http://127.0.0.1:{up_port}", data


@pytest.fixture(scope="module")
def world():
    procs = []
    data = None
    try:
        # No request limit (the matrix makes hundreds of requests a minute), debug capture on.
        base, redis_url, upstream, data = start_stack(procs, **SETTINGS, CONFAB_DEBUG_CAPTURE="true",
                                                      CONFAB_RATE_REQUESTS_PER_MINUTE=0, CONFAB_LOGIN_ATTEMPTS_PER_ADDRESS=1000000)
        yield World(base, redis_url, upstream)
    finally:
        for proc in reversed(procs):
            proc.stop()
        if data:
            shutil.rmtree(data, ignore_errors=True)


@pytest.mark.parametrize("caller,route", MATRIX, ids=[row_id(row) for row in MATRIX])
def test_isolation_matrix(world, caller, route):
    world.ensure()
    wait_idle(world.redis)
    status, code = expected(route, caller)
    headers, user_id = world.callers[caller]
    state = {}
    values = world.values(caller, state)
    path = World.fill(route.path, values)
    params = World.fill(route.query, values)
    body = World.fill(route.body, values)
    if user_id is not None:
        params["user_id"] = user_id
        if route.name == "stream-post":
            body["user_id"] = user_id
    a_before = world.a_data()
    upstream_before = upstream_total(world.upstream)
    response = None
    try:
        with requests.request(route.method, f"{world.base}{path}?{query(**params)}", headers=headers, json=body,
                              stream=True, timeout=TIMEOUT) as response:
            text = response.text
        wait_idle(world.redis)
        what = f"{caller}: {route.method} {path} {params} {body}"
        assert response.status_code == status, f"{what} → {response.status_code} {text[:500]}"
        if code is not None:
            assert error_code(response) == code, f"{what} → {text[:500]}"
        is_a = kind_of(caller) == "a"
        if not is_a:
            for name, value in world.markers(caller, route).items():
                assert value is None or value not in text, f"{what}: the answer shows {name}: {text[:800]}"
        if is_a and 200 <= status < 300:
            for name in route.shows:
                assert world.shown(name) in text, f"{what}: A does not see its own {name}: {text[:800]}"
        if 200 <= status < 300 and response.headers.get("content-type", "").startswith("application/json"):
            reply = response.json()
            if isinstance(reply, dict) and "user_id" in reply:
                assert reply["user_id"] == world.own_id(caller), f"{what}: answered for {reply['user_id']}"
            if route.name == "tenant-add":
                owner = world.a if is_a else world.b
                assert reply["user"]["tenant_id"] == owner.tenant_id and reply["user"]["role"] == "member", reply
            if route.name.startswith("admin-"):
                victim = state["victim"]
                assert reply["deleted"]["users"] == 1, reply
                assert_unauthorized(me(world.base, victim.h))
        if route.streams and 200 <= status < 300:
            assert reply_text(text).startswith("Echo: probe") or "Echo:" in text, text[:500]
            if not is_a:
                # The prompt the model got holds nothing of A's session or agent.
                assert upstream_total(world.upstream) > upstream_before
                prompt = json.dumps(upstream_last(world.upstream))
                for secret in (world.secret, world.persona, world.title):
                    assert secret not in prompt, f"{what}: the model was sent A's data: {prompt[:800]}"
        if not (is_a and route.writes):
            assert_same(a_before, world.a_data(), f"{what} → {response.status_code}")
    finally:
        world.cleanup(caller, route, response, values)


# --- 2. Attacks -------------------------------------------------------------------------------------

def test_register_refuses_a_taken_username_in_any_case(confab, redis_url):
    name = uniq("Taken_")
    first = register(confab, name)
    before = snapshot(redis_url)
    for variant in (name, name.lower(), name.upper(), name.swapcase()):
        r = requests.post(f"{confab}/api/v1/auth/register", json={"username": variant, "password": "other-pass-2"}, timeout=TIMEOUT)
        assert_error(r, 409, "username_taken")
    assert_same(before, snapshot(redis_url), "refused registrations")
    # The first account is untouched: its password still works, the other one does not.
    for variant in (name, name.upper(), name.lower()):
        ok = requests.post(f"{confab}/api/v1/auth/login", json={"username": variant, "password": PASSWORD}, timeout=TIMEOUT)
        assert ok.status_code == 200 and ok.json()["user"]["id"] == first.id, ok.text
    bad = requests.post(f"{confab}/api/v1/auth/login", json={"username": name, "password": "other-pass-2"}, timeout=TIMEOUT)
    assert_unauthorized(bad)


def test_concurrent_registrations_of_one_name_make_one_user(confab, redis_url):
    from concurrent.futures import ThreadPoolExecutor
    name = uniq("Race_")
    variants = [name, name.lower(), name.upper(), name.swapcase()] * 3

    def attempt(username):
        r = requests.post(f"{confab}/api/v1/auth/register", json={"username": username, "password": PASSWORD}, timeout=TIMEOUT)
        return r.status_code, error_code(r), r.json().get("user", {}).get("id") if r.status_code == 201 else None

    with ThreadPoolExecutor(len(variants)) as pool:
        results = list(pool.map(attempt, variants))
    made = [user for status, _, user in results if status == 201]
    assert len(made) == 1, results
    assert sorted(set((s, c) for s, c, _ in results if s != 201)) == [(409, "username_taken")], results
    assert redis_cli(redis_url, "ZSCORE", "confab:usernames", name.lower()) == ["0"]
    assert redis_cli(redis_url, "GET", f"confab:{{name:{name.lower()}}}") == made
    assert len(redis_keys(redis_url, "confab:{u:usr_*}:account")) == 1


@pytest.mark.parametrize("password", [
    "short1!", "aaaaaaaa", "12345678", "abcdefgh", "!!!!!!!!", "abababab1",
    "Aa1!" + "x" * 69,           # 73 bytes
    "é1" * 25,                   # 50 characters, 75 bytes
    "pass\u0000word-1",
], ids=["7-chars", "aaaaaaaa", "12345678", "letters-only", "symbols-only", "few-distinct", "73-bytes", "75-bytes-utf8", "nul"])
def test_register_refuses_weak_and_overlong_passwords(confab, redis_url, password):
    before = snapshot(redis_url)
    r = requests.post(f"{confab}/api/v1/auth/register", json={"username": uniq("weak_"), "password": password}, timeout=TIMEOUT)
    assert_error(r, 400, "invalid_password")
    assert_same(before, snapshot(redis_url), "refused registration")


def test_register_accepts_a_72_byte_password_and_logs_in_with_it(confab):
    password = "Aa1!" + "x" * 68
    assert len(password.encode()) == 72
    user = register(confab, password=password)
    r = requests.post(f"{confab}/api/v1/auth/login", json={"username": user.username, "password": password}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    # Every one of the 72 bytes counts: a password differing only in the last is refused.
    r = requests.post(f"{confab}/api/v1/auth/login", json={"username": user.username, "password": password[:-1] + "y"}, timeout=TIMEOUT)
    assert_unauthorized(r)


@pytest.mark.parametrize("email", ["no-at-sign", "a@b", "a@@example.com", "a b@example.com", "a@example..com", "a@.example.com",
                                   "<a>@example.com", "a@example.com\r\nBcc: x@example.com", "é@example.com", "@example.com",
                                   "a@example.com.", "x" * 250 + "@example.com"])
def test_register_refuses_malformed_emails(confab, redis_url, email):
    before = snapshot(redis_url)
    r = requests.post(f"{confab}/api/v1/auth/register", json={"username": uniq("mail_"), "password": PASSWORD, "email": email},
                      timeout=TIMEOUT)
    assert_error(r, 400, "invalid_email")
    assert_same(before, snapshot(redis_url), "refused registration")


@pytest.mark.parametrize("username", ["ab", "_lead", "-lead", ".lead", "with space", "x" * 65, "ünï_code", "semi;colon", "a:b",
                                      "star*", "brace{u:x}", "new\nline"])
def test_register_refuses_malformed_usernames(confab, redis_url, username):
    before = snapshot(redis_url)
    r = requests.post(f"{confab}/api/v1/auth/register", json={"username": username, "password": PASSWORD}, timeout=TIMEOUT)
    assert_error(r, 400, "invalid_username")
    assert_same(before, snapshot(redis_url), "refused registration")


@pytest.mark.parametrize("tenant_name", ["", "   ", "x" * 101, "tab\there", "nul\u0000"])
def test_register_refuses_bad_tenant_names(confab, redis_url, tenant_name):
    before = snapshot(redis_url)
    r = requests.post(f"{confab}/api/v1/auth/register", json={"username": uniq("ten_"), "password": PASSWORD,
                                                               "tenant_name": tenant_name}, timeout=TIMEOUT)
    assert_error(r, 400, "invalid_tenant_name")
    assert_same(before, snapshot(redis_url), "refused registration")


def test_register_and_add_user_ignore_injected_fields(confab):
    """Fields a client has no say over (id, role, tenant) are not taken from the body."""
    b = register(confab)
    injected = {"id": "usr_" + "0" * 16, "role": "admin", "tenant_id": b.tenant_id, "owner_id": b.id, "user_id": b.id}
    r = requests.post(f"{confab}/api/v1/auth/register", json={"username": uniq("inj_"), "password": PASSWORD, **injected},
                      timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    a = User.of(r.json())
    assert a.id != injected["id"] and a.role == "owner" and a.tenant_id != b.tenant_id
    assert r.json()["tenant"]["owner_id"] == a.id
    r = requests.post(f"{confab}/api/v1/tenant/users", headers=a.h,
                      json={"username": uniq("inj_"), "password": PASSWORD, **injected, "role": "owner"}, timeout=TIMEOUT)
    assert r.status_code == 201, r.text
    member = User.of(r.json())
    assert (member.role, member.tenant_id) == ("member", a.tenant_id) and member.id != injected["id"]
    assert_error(requests.get(f"{confab}/api/v1/tenant/stats", headers=member.h, timeout=TIMEOUT), 403, "not_tenant_owner")
    stats = requests.get(f"{confab}/api/v1/tenant/stats", headers=b.h, timeout=TIMEOUT).json()
    assert stats["stats"]["users"] == 1, stats
    # An agent's id and dates are the service's, whatever a PATCH says.
    agent = make_agent(confab, a)
    other = make_agent(confab, b)
    r = requests.patch(f"{confab}/api/v1/agents/{agent['id']}", headers=a.h,
                       json={"id": other["id"], "created_at": 0, "name": "renamed"}, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["id"] == agent["id"] and r.json()["created_at"] == agent["created_at"], r.text
    assert requests.get(f"{confab}/api/v1/agents/{other['id']}", headers=b.h, timeout=TIMEOUT).json()["name"] == other["name"]


def test_key_and_agent_limits_hold_under_concurrent_creation(redis_url, test_upstream, start_confab):
    from concurrent.futures import ThreadPoolExecutor
    base = start_confab(redis_url, test_upstream + "/v1", **dict(SETTINGS, CONFAB_MAX_KEYS_PER_USER=2, CONFAB_MAX_AGENTS_PER_USER=1))
    # A race shows only sometimes: several rounds, each a new user.
    for _ in range(10):
        user = register(base)  # its default key is one of the two

        def create(i):
            key = requests.post(f"{base}/api/v1/keys", headers=user.h, json={"name": f"k{i}"}, timeout=TIMEOUT)
            agent = requests.post(f"{base}/api/v1/agents", headers=user.h, json={"name": f"a{i}", "template_id": "teacher"},
                                  timeout=TIMEOUT)
            return (key.status_code, error_code(key)), (agent.status_code, error_code(agent))

        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(create, range(16)))
        keys = requests.get(f"{base}/api/v1/keys", headers=user.h, timeout=TIMEOUT).json()["keys"]
        agents = requests.get(f"{base}/api/v1/agents", headers=user.h, timeout=TIMEOUT).json()["agents"]
        assert len(keys) == 2 and len(agents) == 1, f"{len(keys)} keys (at most 2), {len(agents)} agents (at most 1)"
        assert sorted(k for k, _ in results) == [(201, None)] + [(409, "key_limit_reached")] * 15, results
        assert sorted(a for _, a in results) == [(201, None)] + [(409, "agent_limit_reached")] * 15, results


def test_authenticated_answers_carry_rate_limit_headers(confab):
    user = register(confab)
    session = start_session(confab, user.h)
    for creds in (user.h, bearer(user.token)):
        answers = [me(confab, creds), requests.get(f"{confab}/chat/sessions", headers=creds, timeout=TIMEOUT),
                   requests.post(f"{confab}/chat/start", headers=creds, timeout=TIMEOUT),
                   requests.get(f"{confab}/api/v1/keys", headers=creds, timeout=TIMEOUT),
                   requests.get(f"{confab}/api/v1/agents", headers=creds, timeout=TIMEOUT),
                   stream(confab, creds, session, "headers")[2]]
        for r in answers:
            assert 200 <= r.status_code < 300, r.text
            assert r.headers.get("x-ratelimit-limit-requests") == "600", (r.request.url, r.headers)
            assert 0 < int(r.headers["x-ratelimit-remaining-requests"]) < 600, r.headers
            assert r.headers.get("x-ratelimit-reset-requests", "").endswith("s"), r.headers


def test_login_answers_wrong_password_and_unknown_user_alike(redis_url, test_upstream, start_confab):
    # A real bcrypt cost, so that the decoy hash an unknown user is checked against shows in the time.
    base = start_confab(redis_url, test_upstream + "/v1", **dict(SETTINGS, CONFAB_BCRYPT_COST=10))
    user = register(base)
    wrong, unknown = [], []
    for attempt in range(5):
        for name, times in ((user.username, wrong), (uniq("nobody_"), unknown)):
            started = time.monotonic()
            r = requests.post(f"{base}/api/v1/auth/login", json={"username": name, "password": "wrong-pass-1"}, timeout=TIMEOUT)
            times.append(time.monotonic() - started)
            assert_unauthorized(r)
            if name == user.username:
                wrong_body = r.json()
            else:
                unknown_body = r.json()
            assert r.headers.get("WWW-Authenticate") == 'Bearer realm="confab"'
    assert wrong_body == unknown_body == {"error": {"message": "invalid username or password", "type": "authentication_error",
                                                     "code": "invalid_credentials"}}
    # Both check a bcrypt hash: the unknown user is not answered much faster.
    assert statistics.median(unknown) >= 0.4 * statistics.median(wrong), (wrong, unknown)
    assert statistics.median(unknown) <= 4 * statistics.median(wrong), (wrong, unknown)


def test_forged_expired_and_malformed_access_tokens_are_refused(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **dict(SETTINGS, CONFAB_ACCESS_TOKEN_SECONDS=30))
    a, b = register(base), register(base)
    header, payload, signature = a.token.split(".")
    assert json.loads(unb64url(header))["alg"] == "HS256"
    claims = json.loads(unb64url(payload))
    assert claims["sub"] == a.id and round(claims["exp"] - claims["iat"]) == 30
    # The control: a token made here with the secret is accepted, so the refusals below are for
    # what each changes, not for how it was made.
    assert me(base, bearer(jwt(claims_for(a.id)))).json()["user"]["id"] == a.id
    assert me(base, bearer(a.token)).status_code == 200
    now = int(time.time())
    bad = {
        "expired": jwt({"sub": a.id, "iss": "confab", "iat": now - 120, "exp": now - 60}),
        "expired-just": jwt({"sub": a.id, "iss": "confab", "iat": now - 40, "exp": now - 2}),
        "payload-swapped-to-B": header + "." + b64url(json.dumps(claims_for(b.id)).encode()) + "." + signature,
        "payload-lifetime-stretched": header + "." + b64url(json.dumps(dict(claims, exp=now + 10 ** 6)).encode()) + "." + signature,
        "signature-changed": header + "." + payload + "." + signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB"),
        "signature-dropped": header + "." + payload + ".",
        "alg-none": b64url(b'{"alg":"none","typ":"JWT"}') + "." + b64url(json.dumps(claims_for(a.id)).encode()) + ".",
        "alg-None-signed": jwt(claims_for(a.id), header={"alg": "None", "typ": "JWT"}),
        "alg-NONE-with-A-signature": b64url(b'{"alg":"NONE","typ":"JWT"}') + "." + payload + "." + signature,
        "alg-HS512": jwt(claims_for(a.id), alg="HS512"),
        "alg-HS384": jwt(claims_for(a.id), alg="HS384"),
        "wrong-secret": jwt(claims_for(a.id), secret="another-secret-of-at-least-32-characters!"),
        "empty-secret": jwt(claims_for(a.id), secret=""),
        "wrong-issuer": jwt(claims_for(a.id, iss="someone-else")),
        "no-exp": jwt({"sub": a.id, "iss": "confab", "iat": now}),
        "unknown-user": jwt(claims_for("usr_0000000000000000")),
        "sub-not-a-user-id": jwt(claims_for("admin")),
        "sub-anon": jwt(claims_for("anon:" + a.id)),
        "two-parts": header + "." + payload,
        "four-parts": a.token + "." + signature,
        "garbage": "not-a-token",
        "dots": "..",
        "bad-base64": "%%%." + payload + "." + signature,
    }
    for name, token in bad.items():
        r = me(base, bearer(token))
        assert r.status_code == 401, f"{name}: {r.status_code} {r.text}"
        assert_unauthorized(r)
        # Wrong credentials never fall back to anonymous, not even in open mode.
        r = requests.get(f"{base}/chat/sessions", headers=bearer(token), params={"user_id": a.id}, timeout=TIMEOUT)
        assert r.status_code == 401, f"{name} on /chat/sessions: {r.status_code} {r.text}"


def test_revoked_key_is_refused_at_once(confab, redis_url):
    user = register(confab)
    made = make_key(confab, user, name="to revoke")
    key = bearer(made["key"])
    session = start_session(confab, key)
    assert me(confab, key).status_code == 200
    r = requests.delete(f"{confab}/api/v1/keys/{made['id']}", headers=bearer(user.token), timeout=TIMEOUT)
    assert r.status_code == 200 and r.json() == {"id": made["id"], "revoked": True}, r.text
    before = snapshot(redis_url)
    assert_unauthorized(me(confab, key))
    assert_unauthorized(requests.post(f"{confab}/chat/start", headers=key, timeout=TIMEOUT))
    status, text, response = stream(confab, key, session, "after revoking")
    assert status == 401, text
    assert_unauthorized(requests.post(f"{confab}/api/v1/keys", headers=key, json={}, timeout=TIMEOUT))
    assert_same(before, snapshot(redis_url), "requests with a revoked key")
    # The user's other credentials still work; the key is gone from the list; revoking again is a 404.
    assert me(confab, user.h).status_code == 200
    keys = requests.get(f"{confab}/api/v1/keys", headers=user.h, timeout=TIMEOUT).json()["keys"]
    assert [k["id"] for k in keys] == [user.key_id]
    assert_error(requests.delete(f"{confab}/api/v1/keys/{made['id']}", headers=user.h, timeout=TIMEOUT), 404, "key_not_found")


def test_keys_list_shows_no_secrets(confab, redis_url):
    user = register(confab)
    made = make_key(confab, user, name="listed", limits={"requests_per_minute": 7})
    r = requests.get(f"{confab}/api/v1/keys", headers=user.h, timeout=TIMEOUT)
    assert r.status_code == 200
    stored = redis_cli(redis_url, "HVALS", f"confab:{{u:{user.id}}}:keys")
    hashes = [json.loads(v)["hash"] for v in stored]
    for secret in [user.key, made["key"], *hashes, user.key.split("_")[-1], made["key"].split("_")[-1]]:
        assert secret not in r.text
    assert {k["id"] for k in r.json()["keys"]} == {user.key_id, made["id"]}
    assert all(set(k) == {"id", "name", "prefix", "limits", "created_at"} for k in r.json()["keys"]), r.text
    # Only the SHA-256 of a key is stored.
    assert made["key"] not in " ".join(redis_cli(redis_url, "EVAL", SNAPSHOT_SCRIPT, "0", "confab:*"))


def test_a_key_cannot_reach_another_users_session_agent_key_or_stream(confab, redis_url, test_upstream):
    a, b = register(confab), register(confab)
    b_session = chat(confab, b, "bravosecret")
    b_agent = make_agent(confab, b, persona="bravopersona")["id"]
    b_key = make_key(confab, b, name="bravo key")["id"]
    wait_idle(redis_url)
    before = snapshot(redis_url, f"confab:{{u:{b.id}}}:*")
    checks = [
        ("GET", f"/chat/sessions/{b_session}", {}, None, "session_not_found"),
        ("GET", "/chat/history", {"session_id": b_session}, None, "session_not_found"),
        ("DELETE", f"/chat/sessions/{b_session}", {}, None, "session_not_found"),
        ("DELETE", f"/chat/history/{b_session}", {}, None, "session_not_found"),
        ("GET", "/chat/stream", {"session_id": b_session, "message": "hi"}, None, "session_not_found"),
        ("POST", "/chat/stream", {}, {"session_id": b_session, "message": "hi"}, "session_not_found"),
        ("GET", "/chat/stream", {"session_id": b_session, "message": "hi", "agent_id": b_agent}, None, "agent_not_found"),
        ("GET", f"/api/v1/agents/{b_agent}", {}, None, "agent_not_found"),
        ("PATCH", f"/api/v1/agents/{b_agent}", {}, {"name": "stolen"}, "agent_not_found"),
        ("DELETE", f"/api/v1/agents/{b_agent}", {}, None, "agent_not_found"),
        ("POST", "/chat/start", {}, {"agent_id": b_agent}, "agent_not_found"),
        ("PUT", f"/chat/sessions/{uuid.uuid4()}", {}, {"agent_id": b_agent}, "agent_not_found"),
        ("DELETE", f"/api/v1/keys/{b_key}", {}, None, "key_not_found"),
        ("DELETE", f"/api/v1/keys/{b.key_id}", {}, None, "key_not_found"),
    ]
    for method, path, params, body, code in checks:
        for creds in (a.h, bearer(a.token)):
            r = requests.request(method, f"{confab}{path}?{query(**params)}", headers=creds, json=body, timeout=TIMEOUT)
            assert_error(r, 404, code)
            for secret in ("bravosecret", "bravopersona", b_session, b_agent, b_key, b.id):
                assert secret not in r.text
    # A's own lists hold nothing of B's.
    for path in ("/chat/sessions", "/api/v1/agents", "/api/v1/keys", "/chat/usage", "/api/v1/me"):
        text = requests.get(f"{confab}{path}", headers=a.h, timeout=TIMEOUT).text
        for secret in (b_session, b_agent, b_key, b.key_id, b.id):
            assert secret not in text, f"{path} shows B's {secret}"
    assert_same(before, snapshot(redis_url, f"confab:{{u:{b.id}}}:*"), "A's requests on B's things")
    # B's things still work for B.
    status, text, _ = stream(confab, b.h, b_session, "still mine", agent_id=b_agent)
    assert status == 200 and reply_text(text) == "Echo: still mine", text
    assert "bravopersona" in json.dumps(upstream_last(test_upstream))
    assert me(confab, bearer(make_key(confab, b)["key"])).status_code == 200
    assert requests.get(f"{confab}/api/v1/agents/{b_agent}", headers=b.h, timeout=TIMEOUT).status_code == 200


def test_user_id_naming_another_user_is_refused(confab, redis_url):
    a, b = register(confab, uniq("Mixed_")), register(confab)
    session = start_session(confab, a.h)
    before = snapshot(redis_url)
    for other in (b.id, b.username, "someone-else", "anon:" + a.id):
        for method, path, params, body in [("POST", "/chat/start", {"user_id": other}, None),
                                           ("GET", "/chat/sessions", {"user_id": other}, None),
                                           ("GET", "/chat/stream", {"user_id": other, "session_id": session, "message": "x"}, None),
                                           ("POST", "/chat/stream", {}, {"user_id": other, "session_id": session, "message": "x"}),
                                           ("GET", "/chat/history", {"user_id": other, "session_id": session}, None),
                                           ("POST", "/api/chat", {}, {"id": session, "user_id": other, "messages": [
                                               {"role": "user", "parts": [{"type": "text", "text": "x"}]}]})]:
            r = requests.request(method, f"{confab}{path}?{query(**params)}", headers=a.h, json=body, timeout=TIMEOUT)
            assert_error(r, 403, "user_mismatch")
    assert_same(before, snapshot(redis_url), "user_id naming another user")
    # Naming oneself is fine, by id or by username in any case.
    for own in (a.id, a.username, a.username.upper()):
        r = requests.get(f"{confab}/chat/sessions", headers=a.h, params={"user_id": own}, timeout=TIMEOUT)
        assert r.status_code == 200 and [s["id"] for s in r.json()["sessions"]] == [session], r.text


def test_anonymous_user_id_of_a_registered_user_reaches_nothing(confab, redis_url):
    """Open mode: an anonymous caller naming a registered user's id or username gets a namespace
    of its own (`anon:<name>`), never that user's data, and what it makes stays out of the user's."""
    a = register(confab, uniq("Anna_"))
    a_session = chat(confab, a, "annasecret")
    agent = make_agent(confab, a)["id"]
    wait_idle(redis_url)
    a_usage = requests.get(f"{confab}/chat/usage", headers=a.h, timeout=TIMEOUT).json()["usage"]
    assert a_usage["total_tokens"] > 0
    a_data = snapshot(redis_url, f"confab:{{u:{a.id}}}:*")
    for name in (a.id, a.username, a.username.lower(), a.username.upper()):
        anon = {"user_id": name}
        r = requests.get(f"{confab}/chat/sessions", params=anon, timeout=TIMEOUT)
        assert r.status_code == 200 and r.json()["sessions"] == [], r.text
        r = requests.get(f"{confab}/chat/usage", params=anon, timeout=TIMEOUT)
        assert r.json() == {"user_id": name, "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}, r.text
        assert_error(requests.get(f"{confab}/chat/history", params=dict(anon, session_id=a_session), timeout=TIMEOUT),
                     404, "session_not_found")
        assert_error(requests.get(f"{confab}/chat/sessions/{a_session}", params=anon, timeout=TIMEOUT), 404, "session_not_found")
        assert_error(requests.post(f"{confab}/chat/start", params=anon, json={"agent_id": agent}, timeout=TIMEOUT),
                     404, "agent_not_found")
        status, text, _ = stream(confab, {}, a_session, "x", user_id=name)
        assert status == 404, text
        # It chats in its own namespace...
        r = requests.post(f"{confab}/chat/start", params=anon, timeout=TIMEOUT)
        assert r.status_code == 200 and r.json()["user_id"] == name, r.text
        mine = r.json()["session_id"]
        status, text, _ = stream(confab, {}, mine, "anonymous words", user_id=name)
        assert status == 200 and reply_text(text) == "Echo: anonymous words", text
        wait_idle(redis_url)
        assert [s["id"] for s in requests.get(f"{confab}/chat/sessions", params=anon, timeout=TIMEOUT).json()["sessions"]] == [mine]
        assert redis_keys(redis_url, f"confab:{{u:anon:{name}}}:session:{mine}")
        requests.delete(f"{confab}/chat/sessions", params=anon, timeout=TIMEOUT)
    # ...and the registered user sees none of it.
    assert_same(a_data, snapshot(redis_url, f"confab:{{u:{a.id}}}:*"), "anonymous callers named after A")
    listed = requests.get(f"{confab}/chat/sessions", headers=a.h, timeout=TIMEOUT).json()["sessions"]
    assert [s["id"] for s in listed] == [a_session]
    assert requests.get(f"{confab}/chat/usage", headers=a.h, timeout=TIMEOUT).json()["usage"] == a_usage


def test_find_agents_sees_only_the_callers_own_agents(confab, redis_url):
    """The scout persona's find_agents tool searches the templates and the caller's own agents."""
    a, b = register(confab), register(confab)
    m = add_member(confab, a)
    word = "zebracorn" + uuid.uuid4().hex[:6]
    agent = make_agent(confab, a, name=f"{word} advisor", persona=f"You advise on {word}.")
    message = f"Please find me an agent. Use the query '{word}'"

    def find(headers, **anon):
        """The stream of a scout turn that calls find_agents with the word."""
        r = requests.post(f"{confab}/chat/start", headers=headers, params=dict(anon, role="scout"), timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        status, text, _ = stream(confab, headers, r.json()["session_id"], message, role="scout", **anon)
        assert status == 200, text
        assert "Tool results:" in reply_text(text), text[:1000]
        wait_idle(redis_url)
        return text

    assert agent["id"] in find(a.h) and agent["name"] in find(a.h), "the owner's find_agents does not find its own agent"
    for who, headers, anon in (("B", b.h, {}), ("M (A's tenant)", m.h, {}), ("anonymous as A's id", {}, {"user_id": a.id}),
                               ("anonymous as A's username", {}, {"user_id": a.username})):
        text = find(headers, **anon)
        for secret in (agent["id"], agent["name"], agent["persona"]):
            assert secret not in text, f"{who}'s find_agents shows A's agent: {reply_text(text)[:800]}"


def test_tenant_stats_count_only_the_owners_tenant(confab, redis_url):
    a, b = register(confab), register(confab)
    m = add_member(confab, a)
    for user, sessions, agents in ((a, 2, 2), (m, 1, 1), (b, 3, 4)):
        for i in range(sessions):
            chat(confab, user, f"turn{i}")
        for _ in range(agents):
            make_agent(confab, user)
    start_session(confab, b.h)  # an empty session of B's
    wait_idle(redis_url)
    usage = {u.id: requests.get(f"{confab}/chat/usage", headers=u.h, timeout=TIMEOUT).json()["usage"] for u in (a, m, b)}
    r = requests.get(f"{confab}/api/v1/tenant/stats", headers=a.h, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    stats = r.json()
    assert stats["tenant"]["id"] == a.tenant_id and stats["tenant"]["owner_id"] == a.id
    assert {k: stats["stats"][k] for k in ("users", "agents", "sessions", "messages")} == \
        {"users": 2, "agents": 3, "sessions": 3, "messages": 6}, stats
    for kind in ("prompt_tokens", "completion_tokens"):
        assert stats["stats"]["tokens"][kind] == usage[a.id][kind] + usage[m.id][kind], stats
    for secret in (b.id, b.tenant_id, b.username):
        assert secret not in r.text
    r = requests.get(f"{confab}/api/v1/tenant/stats", headers=b.h, timeout=TIMEOUT)
    assert {k: r.json()["stats"][k] for k in ("users", "agents", "sessions", "messages")} == \
        {"users": 1, "agents": 4, "sessions": 4, "messages": 6}, r.text
    for secret in (a.id, a.tenant_id, m.id):
        assert secret not in r.text
    assert_error(requests.get(f"{confab}/api/v1/tenant/stats", headers=m.h, timeout=TIMEOUT), 403, "not_tenant_owner")
    assert_error(requests.post(f"{confab}/api/v1/tenant/users", headers=m.h, json={"username": uniq("x_"), "password": PASSWORD},
                               timeout=TIMEOUT), 403, "not_tenant_owner")


def test_login_flood_is_limited_per_username(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **dict(SETTINGS, CONFAB_LOGIN_ATTEMPTS_PER_USERNAME=3))
    victim, bystander = register(base, uniq("Victim_")), register(base)
    minute_with_room(redis_url)

    def login(name, password):
        return requests.post(f"{base}/api/v1/auth/login", json={"username": name, "password": password}, timeout=TIMEOUT)

    for _ in range(3):
        assert_unauthorized(login(victim.username, "guess-pass-1"))
    flooded = login(victim.username, "guess-pass-2")
    assert_rate_limited(flooded, 3)
    # The right password does not get through the limit, nor does the name in another case.
    assert_rate_limited(login(victim.username, PASSWORD), 3)
    assert_rate_limited(login(victim.username.upper(), PASSWORD), 3)
    # Another name from the same address is not limited; nor are the victim's keys.
    assert login(bystander.username, PASSWORD).status_code == 200
    assert me(base, victim.h).status_code == 200


def test_login_and_register_are_limited_per_address(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **dict(SETTINGS, CONFAB_LOGIN_ATTEMPTS_PER_ADDRESS=4))
    minute_with_room(redis_url)
    user = register(base)  # 1
    for name in (uniq("a_"), uniq("b_")):  # 2, 3
        assert_unauthorized(requests.post(f"{base}/api/v1/auth/login", json={"username": name, "password": "guess-pass-1"},
                                          timeout=TIMEOUT))
    assert requests.post(f"{base}/api/v1/auth/login", json={"username": user.username, "password": PASSWORD},
                         timeout=TIMEOUT).status_code == 200  # 4
    before = snapshot(redis_url)
    name = uniq("late_")
    assert_rate_limited(requests.post(f"{base}/api/v1/auth/register", json={"username": name, "password": PASSWORD},
                                      timeout=TIMEOUT), 4)
    # The address is the connection's: headers naming another do not reset the meter.
    for spoof in ({"X-Forwarded-For": "203.0.113.7"}, {"X-Real-IP": "203.0.113.8"}, {"Forwarded": "for=203.0.113.9"}):
        assert_rate_limited(requests.post(f"{base}/api/v1/auth/register", json={"username": name, "password": PASSWORD},
                                          headers=spoof, timeout=TIMEOUT), 4)
    assert_rate_limited(requests.post(f"{base}/api/v1/auth/login", json={"username": user.username, "password": PASSWORD},
                                      timeout=TIMEOUT), 4)
    assert_same(before, snapshot(redis_url), "limited register and login")
    assert not redis_keys(redis_url, f"confab:{{name:{name.lower()}}}")


def raw_request(base, path, headers, method="GET"):
    """A request with exactly these header lines (repeats and raw bytes included): (status, body)."""
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT)
    try:
        conn.putrequest(method, path)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace"), r.getheader("WWW-Authenticate")
    finally:
        conn.close()


def test_header_injection_in_credentials_is_refused(confab, redis_url):
    a, b = register(confab), register(confab)
    key, token = a.key, a.token
    key_parts = key.split("_")
    b_parts = b.key.split("_")
    values = {
        "trailing-word": f"Bearer {key} extra",
        "quoted": f'Bearer "{key}"',
        "single-quoted": f"Bearer '{key}'",
        "comma": f"Bearer {key},",
        "two-tokens": f"Bearer {key} {token}",
        "semicolon-admin": f"Bearer {key};{ADMIN_TOKEN}",
        "comma-admin": f"Bearer {key}, Bearer {ADMIN_TOKEN}",
        "no-scheme": key,
        "basic": "Basic " + base64.b64encode(f"{a.username}:{PASSWORD}".encode()).decode(),
        "basic-key": "Basic " + base64.b64encode(key.encode()).decode(),
        "scheme-only": "Bearer",
        "unicode-suffix": f"Bearer {key}é".encode("utf-8"),
        "unicode-lookalike": f"Bearer {key.replace('cfk_', 'cfк_')}".encode("utf-8"),
        "over-4096": f"Bearer {key}{'A' * 5000}",
        "token-over-4096": f"Bearer {token}{'A' * 5000}",
        "plain-over-4096": "Bearer " + "A" * 4097,
        "admin-with-suffix": f"Bearer {ADMIN_TOKEN}x",
        "admin-prefix": f"Bearer {ADMIN_TOKEN[:-1]}",
        "key-other-user-spliced": "Bearer " + "_".join([key_parts[0], key_parts[1], b_parts[2], key_parts[3]]),
        "key-other-secret": "Bearer " + "_".join([key_parts[0], key_parts[1], key_parts[2], b_parts[3]]),
        "key-secret-changed": "Bearer " + key[:-1] + ("a" if key[-1] != "a" else "b"),
        "key-extra-part": f"Bearer {key}_x",
        "key-percent": f"Bearer {key[:-3]}%41%41",
        "crlf-escaped": f"Bearer {key}%0d%0aX-Injected:%20yes",
    }
    before = snapshot(redis_url)
    for path in ("/api/v1/me", f"/chat/sessions?user_id={a.id}"):
        for name, value in values.items():
            status, body, challenge = raw_request(confab, path, [("Authorization", value)])
            assert status == 401, f"{name} on {path}: {status} {body[:300]}"
            assert json.loads(body)["error"]["code"] == "invalid_credentials", body
            assert challenge and challenge.startswith("Bearer"), name
        for name, pair in {"two-same": [key, key], "key-then-admin": [key, ADMIN_TOKEN], "admin-then-key": [ADMIN_TOKEN, key],
                           "key-then-token": [key, token], "b-then-a": [b.key, key]}.items():
            status, body, _ = raw_request(confab, path, [("Authorization", f"Bearer {v}") for v in pair])
            assert status == 401, f"two Authorization headers ({name}) on {path}: {status} {body[:300]}"
    assert_same(before, snapshot(redis_url), "injected credentials")
    # The same credentials, sent plainly, work (so each refusal is for the injection).
    for plain in (key, token):
        assert raw_request(confab, "/api/v1/me", [("Authorization", f"Bearer {plain}")])[0] == 200


def test_prefix_cleanup_spares_names_that_merely_contain_the_prefix(confab, redis_url):
    run = "Run" + uuid.uuid4().hex[:6]
    prefix = f"{run}_"
    doomed = [register(confab, f"{run}_1"), register(confab, f"{run.upper()}_2")]
    spared = [register(confab, f"x_{run}_1"), register(confab, f"{run}-1"), register(confab, f"{run}"),
              register(confab, f"{run}1_"), register(confab, f"a{run.lower()}_3")]
    for user in doomed + spared:
        chat(confab, user, "mine")
    wait_idle(redis_url)
    kept = {u.username: snapshot(redis_url, f"confab:{{u:{u.id}}}:*", f"confab:{{name:{u.username.lower()}}}") for u in spared}
    admin = bearer(ADMIN_TOKEN)
    # Prefixes that are not a plain prefix delete nothing.
    before = snapshot(redis_url)
    for bad in ("*", f"{run}*", "?", "[a-z]*", "r", "", "a b", f"{run}_\\"):
        r = requests.delete(f"{confab}/api/v1/admin/users", headers=admin, params={"prefix": bad}, timeout=TIMEOUT)
        assert_error(r, 400, "invalid_prefix")
    assert_error(requests.delete(f"{confab}/api/v1/admin/users", headers=admin, timeout=TIMEOUT), 400, "invalid_prefix")
    assert_same(before, snapshot(redis_url), "refused prefixes")
    # The prefix in another case than the names: the index is lowercased.
    r = requests.delete(f"{confab}/api/v1/admin/users", headers=admin, params={"prefix": prefix.swapcase()}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    reply = r.json()
    assert sorted(reply["usernames"]) == sorted(u.username.lower() for u in doomed), reply
    assert reply["deleted"]["users"] == 2 and reply["deleted"]["tenants"] == 2, reply
    for user in doomed:
        assert_unauthorized(me(confab, user.h))
        assert not redis_keys(redis_url, f"confab:{{u:{user.id}}}:*")
    for user in spared:
        assert me(confab, user.h).status_code == 200, user.username
        assert snapshot(redis_url, f"confab:{{u:{user.id}}}:*", f"confab:{{name:{user.username.lower()}}}") == kept[user.username]
        assert redis_cli(redis_url, "ZSCORE", "confab:usernames", user.username.lower()) == ["0"]


def test_nothing_is_written_on_any_refusal(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **SETTINGS)
    a, b = register(base), register(base)
    m = add_member(base, a)
    a_session = chat(base, a, "alpha")
    a_agent = make_agent(base, a)["id"]
    one_shot = make_key(base, b, name="one request", limits={"requests_per_minute": 1})
    revoked = make_key(base, b, name="revoked")
    assert requests.delete(f"{base}/api/v1/keys/{revoked['id']}", headers=b.h, timeout=TIMEOUT).status_code == 200
    minute_with_room(redis_url)
    assert sessions(base, bearer(one_shot["key"])).status_code == 200  # its one request this minute
    wait_idle(redis_url)
    new_id = str(uuid.uuid4())
    ui = {"id": new_id, "messages": [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}]}
    refusals = [
        # (who, method, path, query, body, status, code)
        ({}, "POST", "/api/v1/auth/register", {}, {"username": a.username.upper(), "password": PASSWORD}, 409, "username_taken"),
        ({}, "POST", "/api/v1/auth/register", {}, {"username": uniq("w_"), "password": "aaaaaaaa"}, 400, "invalid_password"),
        ({}, "POST", "/api/v1/auth/register", {}, {"username": uniq("w_"), "password": PASSWORD, "email": "x@"}, 400, "invalid_email"),
        ({}, "POST", "/api/v1/auth/register", {}, {"username": "x", "password": PASSWORD}, 400, "invalid_username"),
        ({}, "POST", "/api/v1/auth/login", {}, {"username": a.username, "password": "wrong-pass-1"}, 401, "invalid_credentials"),
        (b.h, "GET", "/chat/stream", {"session_id": a_session, "message": "hi"}, None, 404, "session_not_found"),
        (b.h, "POST", "/chat/stream", {}, {"session_id": a_session, "message": "hi"}, 404, "session_not_found"),
        (b.h, "POST", "/chat/start", {}, {"agent_id": a_agent}, 404, "agent_not_found"),
        (b.h, "PUT", f"/chat/sessions/{new_id}", {}, {"agent_id": a_agent}, 404, "agent_not_found"),
        (b.h, "POST", "/api/chat", {}, dict(ui, agent_id=a_agent), 404, "agent_not_found"),
        (b.h, "GET", "/chat/stream", {"session_id": new_id, "message": "hi", "agent_id": a_agent}, None, 404, "agent_not_found"),
        ({}, "POST", "/chat/start", {"user_id": a.id}, {"agent_id": a_agent}, 404, "agent_not_found"),
        ({}, "PUT", f"/chat/sessions/{new_id}", {"user_id": a.id}, {"agent_id": a_agent}, 404, "agent_not_found"),
        (a.h, "POST", "/chat/start", {}, {"agent_id": a_agent, "role": "teacher"}, 400, "conflicting_fields"),
        (a.h, "GET", "/chat/stream", {"session_id": a_session, "message": "hi", "agent_id": a_agent, "role": "teacher"}, None,
         400, "conflicting_fields"),
        (a.h, "PUT", f"/chat/sessions/{new_id}", {}, {"agent_id": a_agent, "persona": "teacher"}, 400, "conflicting_fields"),
        (a.h, "POST", "/api/chat", {}, dict(ui, agent_id=a_agent, persona="teacher"), 400, "conflicting_fields"),
        (a.h, "POST", "/chat/start", {"user_id": b.id}, None, 403, "user_mismatch"),
        (a.h, "GET", "/chat/stream", {"user_id": b.username, "session_id": a_session, "message": "hi"}, None, 403, "user_mismatch"),
        (bearer(ADMIN_TOKEN), "POST", "/chat/start", {"user_id": a.id}, None, 403, "admin_token_not_a_user"),
        (bearer(ADMIN_TOKEN), "POST", "/api/v1/agents", {}, {"name": "x", "template_id": "teacher"}, 403, "admin_token_not_a_user"),
        (b.h, "DELETE", f"/api/v1/keys/{a.key_id}", {}, None, 404, "key_not_found"),
        (b.h, "PATCH", f"/api/v1/agents/{a_agent}", {}, {"name": "mine now"}, 404, "agent_not_found"),
        (b.h, "DELETE", f"/api/v1/agents/{a_agent}", {}, None, 404, "agent_not_found"),
        (b.h, "POST", "/api/v1/agents", {}, {"name": "x", "template_id": "no-such-template"}, 400, "unknown_template"),
        (m.h, "POST", "/api/v1/tenant/users", {}, {"username": uniq("sneak_"), "password": PASSWORD}, 403, "not_tenant_owner"),
        (a.h, "DELETE", f"/api/v1/admin/users/{b.id}", {}, None, 403, "admin_only"),
        (a.h, "DELETE", "/api/v1/admin/users", {"prefix": b.username[:4]}, None, 403, "admin_only"),
        ({}, "DELETE", f"/api/v1/admin/tenants/{b.tenant_id}", {}, None, 401, "credentials_required"),
        (bearer(jwt(claims_for(a.id), secret="x" * 40)), "POST", "/chat/start", {}, None, 401, "invalid_credentials"),
        (bearer(revoked["key"]), "POST", "/chat/start", {}, None, 401, "invalid_credentials"),
        (bearer(one_shot["key"]), "POST", "/chat/start", {}, None, 429, "rate_limit_exceeded"),
        (bearer(one_shot["key"]), "POST", "/api/v1/keys", {}, {"name": "more"}, 403, "key_has_limits"),
        (bearer(one_shot["key"]), "POST", "/api/chat", {}, ui, 429, "rate_limit_exceeded"),
    ]
    uploads = upstream_total(test_upstream)
    for headers, method, path, params, body, status, code in refusals:
        before = snapshot(redis_url)
        keys_before = len(before)
        r = requests.request(method, f"{base}{path}?{query(**params)}", headers=headers, json=body, timeout=TIMEOUT)
        what = f"{method} {path} {params} {body}"
        assert_error(r, status, code, text=f"{what} → {r.text}")
        after = snapshot(redis_url)
        assert len(after) == keys_before, what
        assert_same(before, after, what)
    assert upstream_total(test_upstream) == uploads, "a refused request reached the model"


# --- 3. Two instances on one Redis --------------------------------------------------------------------

@pytest.fixture
def two(redis_url, test_upstream, start_confab):
    return (start_confab(redis_url, test_upstream + "/v1", **SETTINGS),
            start_confab(redis_url, test_upstream + "/v1", **SETTINGS))


def test_two_instances_share_sessions_and_tokens(two, redis_url):
    one, other = two
    user = register(one)
    session = start_session(one, user.h)
    listed = requests.get(f"{other}/chat/sessions", headers=user.h, timeout=TIMEOUT).json()["sessions"]
    assert [s["id"] for s in listed] == [session]
    # The access token one signed is good on the other (the same CONFAB_JWT_SECRET).
    status, text, _ = stream(other, bearer(user.token), session, "across")
    assert status == 200 and reply_text(text) == "Echo: across", text
    wait_idle(redis_url)
    history = requests.get(f"{one}/chat/history", headers=user.h, params={"session_id": session}, timeout=TIMEOUT).json()
    assert [(m["role"], m["content"]) for m in history["messages"]] == [("user", "across"), ("assistant", "Echo: across")]
    # And the other way: a login on the other instance, used on the first.
    login = requests.post(f"{other}/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}, timeout=TIMEOUT)
    assert me(one, bearer(login.json()["access_token"])).json()["user"]["id"] == user.id


def test_two_instances_see_a_revoked_key_at_once(two):
    one, other = two
    user = register(one)
    made = make_key(one, user, name="shared")
    key = bearer(made["key"])
    assert me(other, key).status_code == 200
    started = time.monotonic()
    assert requests.delete(f"{one}/api/v1/keys/{made['id']}", headers=user.h, timeout=TIMEOUT).status_code == 200
    refused = me(other, key)
    elapsed = time.monotonic() - started
    assert_unauthorized(refused)  # the very next request on the other instance
    assert elapsed < 1.0, elapsed
    assert_unauthorized(me(one, key))


def test_two_instances_share_rate_limits(two, redis_url):
    one, other = two
    user = register(one)
    made = make_key(one, user, name="five a minute", limits={"requests_per_minute": 5})
    key = bearer(made["key"])
    window = minute_with_room(redis_url, seconds=20)
    for i, base in enumerate([one, other, one, other, one]):
        r = sessions(base, key)
        assert r.status_code == 200, r.text
        assert r.headers.get("x-ratelimit-limit-requests") == "5", r.headers
        assert r.headers.get("x-ratelimit-remaining-requests") == str(4 - i), r.headers
        assert r.headers.get("x-ratelimit-reset-requests", "").endswith("s"), r.headers
    for base in (other, one, other):
        assert_rate_limited(sessions(base, key), 5)
        assert_rate_limited(requests.post(f"{base}/chat/start", headers=key, timeout=TIMEOUT), 5)
    # Counted but answered: the owner of a flooded key can still see and revoke it.
    assert me(one, key).status_code == 200
    # A refusal counts nothing: the key's meter holds the five (and the /me above).
    assert redis_cli(redis_url, "GET", f"confab:{{u:{user.id}}}:rate:key:{made['id']}:req:{window}") == ["6"]
    # The limit is the key's: the user's other credentials are under the user's (default 600).
    r = me(other, bearer(user.token))
    assert r.status_code == 200 and r.headers.get("x-ratelimit-limit-requests") == "600", r.headers


# --- 4. Required mode ---------------------------------------------------------------------------------

def test_required_mode_needs_credentials_except_on_public_routes(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **dict(SETTINGS, CONFAB_AUTH="required"))
    user = register(base)
    assert requests.post(f"{base}/api/v1/auth/login", json={"username": user.username, "password": PASSWORD},
                         timeout=TIMEOUT).status_code == 200
    session = chat(base, user, "hello")
    wait_idle(redis_url)
    sid, agent = str(uuid.uuid4()), "agt_" + "a" * 16
    ui = {"id": sid, "messages": [{"role": "user", "parts": [{"type": "text", "text": "hi"}]}]}
    closed = [
        ("POST", "/chat/start", {"user_id": "alice"}, None),
        ("POST", "/chat/start", {"user_id": user.id}, None),
        ("GET", "/chat/stream", {"user_id": "alice", "session_id": sid, "message": "hi"}, None),
        ("GET", "/chat/stream", {"user_id": user.id, "session_id": session, "message": "hi"}, None),
        ("POST", "/chat/stream", {}, {"user_id": "alice", "session_id": sid, "message": "hi"}),
        ("GET", "/chat/history", {"user_id": user.username, "session_id": session}, None),
        ("GET", "/chat/sessions", {"user_id": user.id}, None),
        ("GET", f"/chat/sessions/{session}", {"user_id": user.id}, None),
        ("PUT", f"/chat/sessions/{sid}", {"user_id": "alice"}, {"title": "x"}),
        ("DELETE", f"/chat/sessions/{session}", {"user_id": user.id}, None),
        ("DELETE", "/chat/sessions", {"user_id": user.id}, None),
        ("DELETE", f"/chat/history/{session}", {"user_id": user.id}, None),
        ("GET", "/chat/usage", {"user_id": user.id}, None),
        ("POST", "/api/chat", {"user_id": "alice"}, ui),
        ("GET", f"/chat/debug/{uuid.uuid4()}", {"user_id": "alice"}, None),
        ("GET", f"/api/chat/{sid}/stream", {"user_id": "alice"}, None),
        ("GET", "/api/v1/me", {}, None),
        ("POST", "/api/v1/auth/ticket", {}, None),
        ("POST", "/api/v1/keys", {}, {"name": "x"}),
        ("GET", "/api/v1/keys", {}, None),
        ("DELETE", f"/api/v1/keys/{user.key_id}", {}, None),
        ("POST", "/api/v1/agents", {}, {"name": "x", "template_id": "teacher"}),
        ("GET", "/api/v1/agents", {}, None),
        ("GET", f"/api/v1/agents/{agent}", {}, None),
        ("PATCH", f"/api/v1/agents/{agent}", {}, {"name": "x"}),
        ("DELETE", f"/api/v1/agents/{agent}", {}, None),
        ("POST", "/api/v1/tenant/users", {}, {"username": uniq("x_"), "password": PASSWORD}),
        ("GET", "/api/v1/tenant/stats", {}, None),
        ("DELETE", f"/api/v1/admin/users/{user.id}", {}, None),
        ("DELETE", f"/api/v1/admin/tenants/{user.tenant_id}", {}, None),
        ("DELETE", "/api/v1/admin/users", {"prefix": user.username}, None),
    ]
    before = snapshot(redis_url)
    failures = []
    for method, path, params, body in closed:
        r = requests.request(method, f"{base}{path}?{query(**params)}", json=body, timeout=TIMEOUT)
        if r.status_code != 401 or error_code(r) != "credentials_required" or \
                r.headers.get("WWW-Authenticate") != 'Bearer realm="confab"':
            failures.append(f"{method} {path} {params}: {r.status_code} {r.headers.get('WWW-Authenticate')} {r.text[:200]}")
        if user.id in r.text or session in r.text:
            failures.append(f"{method} {path}: shows the user's data: {r.text[:200]}")
    assert not failures, "\n".join(failures)
    assert_same(before, snapshot(redis_url), "requests without credentials in required mode")
    for path in ("/health", "/ready", "/metrics", "/openapi.json", "/", "/api/v1/agents/templates"):
        r = requests.get(f"{base}{path}", timeout=TIMEOUT)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:200]}"
    assert register(base).role == "owner"
    # With credentials everything works.
    assert requests.get(f"{base}/chat/sessions", headers=user.h, timeout=TIMEOUT).json()["total"] == 1


def test_required_mode_ticket_streams_once(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **dict(SETTINGS, CONFAB_AUTH="required"))
    user, other = register(base), register(base)
    session = start_session(base, user.h)
    other_session = start_session(base, other.h)

    def ticket():
        r = requests.post(f"{base}/api/v1/auth/ticket", headers=bearer(user.token), timeout=TIMEOUT)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["ticket"].startswith("cft_") and body["expires_in"] > 0
        return body["ticket"]

    url = f"{base}/chat/stream?" + query(ticket=ticket(), session_id=session, message="by ticket")
    with requests.get(url, stream=True, timeout=TIMEOUT) as r:
        assert r.status_code == 200, r.text
        assert reply_text(r.text) == "Echo: by ticket"
    wait_idle(redis_url)
    before = snapshot(redis_url)
    with requests.get(url, stream=True, timeout=TIMEOUT) as again:
        assert_unauthorized(again)
    # A ticket is its user's: another user's session is a 404 (and uses the ticket up).
    url = f"{base}/chat/stream?" + query(ticket=ticket(), session_id=other_session, message="not mine")
    with requests.get(url, stream=True, timeout=TIMEOUT) as r:
        assert_error(r, 404, "session_not_found")
    with requests.get(url, stream=True, timeout=TIMEOUT) as r:
        assert_unauthorized(r)
    # Tickets are for GET (EventSource) only; a made-up one is refused.
    t = ticket()
    r = requests.post(f"{base}/chat/stream?ticket={t}", json={"session_id": session, "message": "x"}, timeout=TIMEOUT)
    assert_error(r, 401, "credentials_required")
    with requests.get(f"{base}/chat/stream?" + query(ticket="cft_" + "x" * 32, session_id=session, message="x"), stream=True,
                      timeout=TIMEOUT) as r:
        assert_unauthorized(r)
    assert_same([line for line in before if "{ticket:" not in line],
                [line for line in snapshot(redis_url) if "{ticket:" not in line], "refused ticket streams")
    history = requests.get(f"{base}/chat/history", headers=user.h, params={"session_id": session}, timeout=TIMEOUT).json()
    assert [m["content"] for m in history["messages"]] == ["by ticket", "Echo: by ticket"]
    # One ticket used by many at once still opens one stream.
    from concurrent.futures import ThreadPoolExecutor
    sessions = [start_session(base, user.h) for _ in range(8)]
    shared = ticket()

    def use(session):
        with requests.get(f"{base}/chat/stream?" + query(ticket=shared, session_id=session, message="race"), stream=True,
                          timeout=TIMEOUT) as r:
            return r.status_code, r.text

    with ThreadPoolExecutor(len(sessions)) as pool:
        results = list(pool.map(use, sessions))
    assert sorted(status for status, _ in results) == [200] + [401] * 7, results
    wait_idle(redis_url)


# --- 5. The administrator's clean-up ------------------------------------------------------------------

def test_admin_prefix_cleanup_removes_everything_of_those_users(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **SETTINGS)
    prefix = "Clean" + uuid.uuid4().hex[:6] + "_"
    owner = register(base, prefix + "Owner1")
    member = add_member(base, owner, prefix + "member1")
    solo = register(base, prefix.upper() + "solo")
    outsiders = [register(base, uniq("outsider_")), register(base, "x" + prefix + "1")]
    made = {"agents": 0, "keys": 0, "sessions": 0, "messages": 0}
    plan = {owner.id: (2, 2, 1, 1), member.id: (1, 0, 0, 0), solo.id: (1, 1, 0, 0)}  # turns, agents, empty sessions, extra keys
    tickets = []
    for user in (owner, member, solo):
        turns, agents, empty, keys = plan[user.id]
        for i in range(turns):
            chat(base, user, f"turn{i}")
        for _ in range(agents):
            make_agent(base, user)
        for _ in range(empty):
            start_session(base, user.h)
        for _ in range(keys):
            make_key(base, user)
        made["agents"] += agents
        made["keys"] += 1 + keys
        made["sessions"] += turns + empty
        made["messages"] += 2 * turns
        r = requests.post(f"{base}/api/v1/auth/ticket", headers=user.h, timeout=TIMEOUT)
        tickets.append(r.json()["ticket"])
    for user in outsiders:
        chat(base, user, "outside")
        make_agent(base, user)
    wait_idle(redis_url)
    doomed = (owner, member, solo)
    redis_key_count = sum(len(redis_keys(redis_url, f"confab:{{u:{u.id}}}:*")) for u in doomed)
    outside = snapshot(redis_url, *[f"confab:{{u:{u.id}}}:*" for u in outsiders],
                       *[f"confab:{{name:{u.username.lower()}}}" for u in outsiders],
                       *[f"confab:{{t:{u.tenant_id}}}:*" for u in outsiders])

    assert_error(requests.delete(f"{base}/api/v1/admin/users", headers=owner.h, params={"prefix": prefix}, timeout=TIMEOUT),
                 403, "admin_only")
    r = requests.delete(f"{base}/api/v1/admin/users", headers=bearer(ADMIN_TOKEN), params={"prefix": prefix.lower()}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    reply = r.json()
    assert sorted(reply["usernames"]) == sorted(u.username.lower() for u in doomed), reply
    assert reply["deleted"] == {"users": 3, "tenants": 2, **made, "redis_keys": redis_key_count}, reply

    for user in doomed:
        assert not redis_keys(redis_url, f"confab:{{u:{user.id}}}:*"), user.username
        assert not redis_keys(redis_url, f"confab:{{name:{user.username.lower()}}}")
        assert redis_cli(redis_url, "ZSCORE", "confab:usernames", user.username.lower()) == []
        assert_unauthorized(me(base, user.h))
        assert_unauthorized(me(base, bearer(jwt(claims_for(user.id)))))
        assert_unauthorized(requests.post(f"{base}/api/v1/auth/login", json={"username": user.username, "password": PASSWORD},
                                          timeout=TIMEOUT))
    if owner.token:
        assert_unauthorized(me(base, bearer(owner.token)))
    for tenant in {owner.tenant_id, solo.tenant_id}:
        assert not redis_keys(redis_url, f"confab:{{t:{tenant}}}:*"), tenant
    # A ticket issued before the clean-up opens nothing.
    for t in tickets:
        with requests.get(f"{base}/chat/stream?" + query(ticket=t, session_id=str(uuid.uuid4()), message="x"), stream=True,
                          timeout=TIMEOUT) as r:
            assert_unauthorized(r)
    assert snapshot(redis_url, *[f"confab:{{u:{u.id}}}:*" for u in outsiders],
                    *[f"confab:{{name:{u.username.lower()}}}" for u in outsiders],
                    *[f"confab:{{t:{u.tenant_id}}}:*" for u in outsiders]) == outside
    for user in outsiders:
        assert me(base, user.h).status_code == 200
    # A second run finds nothing; the names are free again.
    r = requests.delete(f"{base}/api/v1/admin/users", headers=bearer(ADMIN_TOKEN), params={"prefix": prefix}, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["deleted"]["users"] == 0 and r.json()["usernames"] == [], r.text
    again = register(base, prefix + "Owner1")
    assert again.id != owner.id and again.tenant_id != owner.tenant_id
    # The old credentials do not reach the new user of that name.
    assert_unauthorized(me(base, owner.h))
    assert_unauthorized(me(base, bearer(owner.token)))
    assert requests.get(f"{base}/chat/sessions", headers=again.h, timeout=TIMEOUT).json()["sessions"] == []
    assert requests.get(f"{base}/api/v1/agents", headers=again.h, timeout=TIMEOUT).json()["agents"] == []


def active_streams(base):
    """Confab's `confab_active_streams` gauge: a turn leaves it once its reply is stored."""
    for line in requests.get(f"{base}/metrics", timeout=TIMEOUT).text.splitlines():
        if line.startswith("confab_active_streams"):
            return float(line.split()[-1])
    return 0.0


def wait_no_streams(base, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if active_streams(base) == 0:
            return
        time.sleep(0.05)
    pytest.fail("a turn is still running")


def test_admin_cleanup_during_a_stream_leaves_nothing(confab, redis_url, test_upstream):
    """A user deleted while a reply of theirs streams: once the turn ends, nothing of theirs is
    left in Redis (the turn's end must not write under the deleted user's tag)."""
    user = register(confab)
    session = start_session(confab, user.h)
    with open_stream(confab, user.h, session, "last words [[tokens=60]] [[delay=20]]") as r:
        assert r.status_code == 200, r.text
        wait_upstream_active(test_upstream, 1)
        deleted = requests.delete(f"{confab}/api/v1/admin/users/{user.id}", headers=bearer(ADMIN_TOKEN), timeout=TIMEOUT)
        assert deleted.status_code == 200, deleted.text
        assert "[DONE]" in r.text
    wait_no_streams(confab)
    assert_unauthorized(me(confab, user.h))
    assert redis_keys(redis_url, f"confab:{{u:{user.id}}}:*") == []


def test_admin_deletes_a_tenant_with_all_its_users(confab, redis_url):
    owner, bystander = register(confab), register(confab)
    members = [add_member(confab, owner) for _ in range(2)]
    for user in [owner, *members]:
        chat(confab, user, "in the tenant")
        make_agent(confab, user)
    chat(confab, bystander, "outside")
    wait_idle(redis_url)
    kept = snapshot(redis_url, f"confab:{{u:{bystander.id}}}:*", f"confab:{{t:{bystander.tenant_id}}}:*")
    admin = bearer(ADMIN_TOKEN)
    assert_error(requests.delete(f"{confab}/api/v1/admin/tenants/{owner.tenant_id}", headers=owner.h, timeout=TIMEOUT), 403, "admin_only")
    assert_error(requests.delete(f"{confab}/api/v1/admin/tenants/ten_{'0' * 16}", headers=admin, timeout=TIMEOUT), 404, "tenant_not_found")
    assert_error(requests.delete(f"{confab}/api/v1/admin/users/usr_{'0' * 16}", headers=admin, timeout=TIMEOUT), 404, "user_not_found")
    assert_error(requests.delete(f"{confab}/api/v1/admin/tenants/not-an-id", headers=admin, timeout=TIMEOUT), 400, "invalid_tenant_id")
    r = requests.delete(f"{confab}/api/v1/admin/tenants/{owner.tenant_id}", headers=admin, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    deleted = r.json()["deleted"]
    assert {k: deleted[k] for k in ("users", "tenants", "agents", "keys", "sessions", "messages")} == \
        {"users": 3, "tenants": 1, "agents": 3, "keys": 3, "sessions": 3, "messages": 6}, deleted
    for user in [owner, *members]:
        assert_unauthorized(me(confab, user.h))
        assert not redis_keys(redis_url, f"confab:{{u:{user.id}}}:*")
        assert redis_cli(redis_url, "ZSCORE", "confab:usernames", user.username.lower()) == []
    assert not redis_keys(redis_url, f"confab:{{t:{owner.tenant_id}}}:*")
    assert snapshot(redis_url, f"confab:{{u:{bystander.id}}}:*", f"confab:{{t:{bystander.tenant_id}}}:*") == kept
    # Deleting one member keeps the tenant while its owner is in it.
    other = register(confab)
    member = add_member(confab, other)
    r = requests.delete(f"{confab}/api/v1/admin/users/{member.id}", headers=admin, timeout=TIMEOUT)
    assert r.json()["deleted"]["tenants"] == 0 and r.json()["deleted"]["users"] == 1, r.text
    stats = requests.get(f"{confab}/api/v1/tenant/stats", headers=other.h, timeout=TIMEOUT).json()
    assert stats["stats"]["users"] == 1, stats


# --- 6. Agents in chats -------------------------------------------------------------------------------

def test_templates_are_public_and_complete(confab):
    r = requests.get(f"{confab}/api/v1/agents/templates", timeout=TIMEOUT)
    assert r.status_code == 200
    templates = r.json()["templates"]
    assert len(templates) >= 10
    ids = {t["id"] for t in templates}
    assert set(TEMPLATES) <= ids, ids
    assert all(t["name"] and t["system_prompt"] for t in templates)


def test_agent_in_chats(confab, redis_url, test_upstream):
    user = register(confab)
    agent = make_agent(confab, user, name="Tutor Tom", template_id="teacher", persona="You are Tom, tutorpersona.",
                       temperature=0.35, model="agent-model-x")
    assert agent["id"].startswith("agt_") and agent["temperature"] == 0.35
    r = requests.post(f"{confab}/chat/start", headers=user.h, json={"agent_id": agent["id"]}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    started = r.json()
    assert started["persona"] == agent["id"] and started["session"]["persona"] == agent["id"]
    assert "Tutor Tom" in started["welcome_message"]
    session = started["session_id"]
    status, text, _ = stream(confab, user.h, session, "teach me")
    assert status == 200 and reply_text(text) == "Echo: teach me", text
    sent = upstream_last(test_upstream)
    assert sent["temperature"] == 0.35, sent
    assert sent["model"] == "agent-model-x", sent
    assert sent["messages"][0] == {"role": "system", "content": "You are Tom, tutorpersona."}, sent
    wait_idle(redis_url)
    info = requests.get(f"{confab}/chat/sessions/{session}", headers=user.h, timeout=TIMEOUT).json()
    assert info["persona"] == agent["id"], info
    # A change to the agent shows in the next turn of its session.
    r = requests.patch(f"{confab}/api/v1/agents/{agent['id']}", headers=user.h, json={"temperature": 1.5}, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["temperature"] == 1.5, r.text
    status, text, _ = stream(confab, user.h, session, "again")
    assert status == 200, text
    assert upstream_last(test_upstream)["temperature"] == 1.5
    wait_idle(redis_url)
    # agent_id on a stream in a session of another persona; and by POST /chat/stream and /api/chat.
    plain = start_session(confab, user.h, role="programmer")
    status, text, _ = stream(confab, user.h, plain, "switch", agent_id=agent["id"])
    assert status == 200, text
    assert upstream_last(test_upstream)["temperature"] == 1.5
    wait_idle(redis_url)
    with requests.post(f"{confab}/chat/stream", headers=user.h, json={"session_id": plain, "message": "post", "agent_id": agent["id"]},
                       stream=True, timeout=TIMEOUT) as r:
        assert r.status_code == 200 and reply_text(r.text) == "Echo: post", r.text
    assert upstream_last(test_upstream)["temperature"] == 1.5
    wait_idle(redis_url)
    ui = {"id": uuid.uuid4().hex[:20], "agent_id": agent["id"], "messages": [{"role": "user", "parts": [{"type": "text", "text": "ui"}]}]}
    with requests.post(f"{confab}/api/chat", headers=user.h, json=ui, stream=True, timeout=TIMEOUT) as r:
        assert r.status_code == 200, r.text
        assert '"delta":" ui"' in r.text
    assert upstream_last(test_upstream)["temperature"] == 1.5
    wait_idle(redis_url)
    # A persona has no temperature of its own: none is sent.
    status, text, _ = stream(confab, user.h, start_session(confab, user.h, role="teacher"), "no agent")
    assert status == 200 and "temperature" not in upstream_last(test_upstream)


def test_agent_of_another_user_or_with_role_is_refused(confab, redis_url, test_upstream):
    a, b = register(confab), register(confab)
    agent = make_agent(confab, a, persona="alphapersona")["id"]
    b_session = chat(confab, b, "mine")
    wait_idle(redis_url)
    calls = upstream_total(test_upstream)
    before = snapshot(redis_url)
    new_id = str(uuid.uuid4())
    refusals = [
        (b.h, "POST", "/chat/start", {}, {"agent_id": agent}, 404, "agent_not_found"),
        (b.h, "POST", "/chat/start", {"agent_id": agent}, None, 404, "agent_not_found"),
        (b.h, "GET", "/chat/stream", {"session_id": b_session, "message": "x", "agent_id": agent}, None, 404, "agent_not_found"),
        (b.h, "POST", "/chat/stream", {}, {"session_id": b_session, "message": "x", "agent_id": agent}, 404, "agent_not_found"),
        (b.h, "PUT", f"/chat/sessions/{b_session}", {}, {"agent_id": agent}, 404, "agent_not_found"),
        (b.h, "POST", "/api/chat", {}, {"id": new_id, "agent_id": agent,
                                          "messages": [{"role": "user", "parts": [{"type": "text", "text": "x"}]}]}, 404, "agent_not_found"),
        ({}, "POST", "/chat/start", {"user_id": a.id}, {"agent_id": agent}, 404, "agent_not_found"),
        ({}, "GET", "/chat/stream", {"user_id": a.username, "session_id": new_id, "message": "x", "agent_id": agent}, None,
         404, "agent_not_found"),
        (b.h, "POST", "/chat/start", {}, {"agent_id": "agt_" + "0" * 16}, 404, "agent_not_found"),
        (b.h, "POST", "/chat/start", {}, {"agent_id": "agt_bad"}, 400, "invalid_agent_id"),
        (a.h, "POST", "/chat/start", {}, {"agent_id": agent, "role": "teacher"}, 400, "conflicting_fields"),
        (a.h, "POST", "/chat/start", {"role": "teacher"}, {"agent_id": agent}, 400, "conflicting_fields"),
        (a.h, "GET", "/chat/stream", {"session_id": b_session, "message": "x", "agent_id": agent, "role": "teacher"}, None,
         400, "conflicting_fields"),
        (a.h, "POST", "/chat/stream", {}, {"session_id": new_id, "message": "x", "agent_id": agent, "role": "teacher"}, 400,
         "conflicting_fields"),
    ]
    for headers, method, path, params, body, status, code in refusals:
        r = requests.request(method, f"{confab}{path}?{query(**params)}", headers=headers, json=body, timeout=TIMEOUT)
        assert_error(r, status, code, text=f"{method} {path} {params} {body} → {r.text}")
        assert "alphapersona" not in r.text
    assert_same(before, snapshot(redis_url), "refused agents")
    assert upstream_total(test_upstream) == calls, "a refused request reached the model"


# --- Rate limits ----------------------------------------------------------------------------------------

def test_requests_per_minute_limit(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **dict(SETTINGS, CONFAB_RATE_REQUESTS_PER_MINUTE=5))
    user, other = register(base), register(base)
    window = minute_with_room(redis_url, seconds=20)
    for i in range(5):
        r = sessions(base, user.h if i % 2 else bearer(user.token))
        assert r.status_code == 200, r.text
        assert (r.headers.get("x-ratelimit-limit-requests"), r.headers.get("x-ratelimit-remaining-requests")) == ("5", str(4 - i))
    before = snapshot(redis_url)
    assert_rate_limited(requests.post(f"{base}/chat/start", headers=user.h, timeout=TIMEOUT), 5)
    assert_rate_limited(sessions(base, bearer(user.token)), 5)
    assert_same(before, snapshot(redis_url), "rate-limited requests")
    assert redis_cli(redis_url, "GET", f"confab:{{u:{user.id}}}:rate:user:req:{window}") == ["5"]
    assert me(base, other.h).status_code == 200
    # Public routes answer without credentials.
    assert requests.get(f"{base}/api/v1/agents/templates", timeout=TIMEOUT).status_code == 200


def test_tokens_per_minute_limit(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **dict(SETTINGS, CONFAB_RATE_TOKENS_PER_MINUTE=40))
    user = register(base)
    session = start_session(base, user.h)
    minute_with_room(redis_url, seconds=20)
    r = me(base, user.h)
    assert (r.headers.get("x-ratelimit-limit-tokens"), r.headers.get("x-ratelimit-remaining-tokens")) == ("40", "40"), r.headers
    status, text, _ = stream(base, user.h, session, "many [[tokens=60]]")
    assert status == 200, text
    wait_idle(redis_url)
    before = snapshot(redis_url)
    status, text, refused = stream(base, user.h, session, "one more")
    assert_rate_limited(refused, 40, kind="tokens")
    # Only new turns wait for the token meter; reads go on and say where it stands.
    r = me(base, user.h)
    assert r.status_code == 200 and r.headers.get("x-ratelimit-remaining-tokens") == "0", r.headers
    assert_same(before, snapshot(redis_url), "token-limited requests")


def test_key_tokens_per_minute_is_its_own_scope(confab, redis_url):
    user = register(confab)
    made = make_key(confab, user, name="few tokens", limits={"tokens_per_minute": 30})
    key = bearer(made["key"])
    session = start_session(confab, user.h)
    minute_with_room(redis_url, seconds=20)
    status, text, response = stream(confab, key, session, "spend [[tokens=50]]")
    assert status == 200, text
    assert response.headers.get("x-ratelimit-limit-tokens") == "30", response.headers
    wait_idle(redis_url)
    before = snapshot(redis_url)
    status, text, refused = stream(confab, key, session, "more")
    assert_rate_limited(refused, 30, kind="tokens")
    assert_same(before, snapshot(redis_url), "a token-limited key")
    # The user has no token limit of their own: the other credentials go on.
    status, text, _ = stream(confab, user.h, session, "still")
    assert status == 200 and reply_text(text) == "Echo: still", text


@pytest.mark.parametrize("limits,code", [
    ({"requests_per_minute": 0}, "invalid_limits"), ({"tokens_per_minute": -1}, "invalid_limits"),
    ({"concurrent_streams": 100000001}, "invalid_limits"), ({"requests_per_minute": "5"}, "invalid_field"),
    ({"requests_per_minute": 2.5}, None), ([], None), ("many", None),
])
def test_key_limits_are_checked(confab, redis_url, limits, code):
    user = register(confab)
    before = snapshot(redis_url)
    r = requests.post(f"{confab}/api/v1/keys", headers=user.h, json={"name": "bad", "limits": limits}, timeout=TIMEOUT)
    assert_error(r, 400, code)
    assert_same(before, snapshot(redis_url), "a key with bad limits")


def poll_stream(base, headers, session, message, timeout=30):
    """Opens the stream until it is accepted (a refusal is a 429): its text."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, text, response = stream(base, headers, session, message)
        if status == 200:
            return text
        assert_error(response, 429, "rate_limit_exceeded")
        time.sleep(0.1)
    pytest.fail(f"no stream slot came free within {timeout} s")


def test_streams_at_once_limit(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **dict(SETTINGS, CONFAB_RATE_CONCURRENT_STREAMS=2))
    user, other = register(base), register(base)
    sessions = [start_session(base, user.h) for _ in range(3)]
    held = []
    try:
        held = [open_stream(base, user.h, s, SLOW) for s in sessions[:2]]
        assert [r.status_code for r in held] == [200, 200]
        wait_upstream_active(test_upstream, 2)
        before = snapshot(redis_url)
        calls = upstream_total(test_upstream)
        for creds in (user.h, bearer(user.token)):
            status, text, refused = stream(base, creds, sessions[2], "a third")
            assert_streams_limited(refused, 2)
        assert_same(before, snapshot(redis_url), "a refused stream")
        assert upstream_total(test_upstream) == calls
        # Another user has slots of their own.
        status, text, _ = stream(base, other.h, start_session(base, other.h), "mine")
        assert status == 200 and reply_text(text) == "Echo: mine", text
        held.pop(0).close()
        assert reply_text(poll_stream(base, user.h, sessions[2], "after")) == "Echo: after"
    finally:
        for r in held:
            r.close()
    wait_idle(redis_url)


def test_key_stream_limit_is_its_own_scope(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", **dict(SETTINGS, CONFAB_RATE_CONCURRENT_STREAMS=3))
    user = register(base)
    made = make_key(base, user, name="one stream", limits={"concurrent_streams": 1})
    key = bearer(made["key"])
    sessions = [start_session(base, user.h) for _ in range(4)]
    held = []
    try:
        held.append(open_stream(base, key, sessions[0], SLOW))
        assert held[0].status_code == 200, held[0].text
        status, text, refused = stream(base, key, sessions[1], "second on the key")
        assert_streams_limited(refused, 1)
        # The user's scope still has room: the default key streams.
        held.append(open_stream(base, user.h, sessions[1], SLOW))
        held.append(open_stream(base, bearer(user.token), sessions[2], SLOW))
        assert [r.status_code for r in held] == [200, 200, 200]
        # Now the user's scope is full (3), whatever the credentials.
        status, text, refused = stream(base, user.h, sessions[3], "fourth")
        assert_streams_limited(refused, 3)
        held.pop(0).close()
        assert reply_text(poll_stream(base, key, sessions[3], "key again")) == "Echo: key again"
    finally:
        for r in held:
            r.close()
    wait_idle(redis_url)
