"""Confab's own command line (`confab chat|sessions|agents|keys|cleanup`) against real processes:
a redis-server, the test upstream (which echoes the last user message) and Confab.

- The commands end to end: chat (one message and stdin), sessions, agents, keys, and cleanup of
  a user's sessions and, with the admin token, of users by prefix; the exit statuses they document.
- The stream client against a scripted server: events split anywhere with CR, LF and CRLF line
  ends and comments, a 503 with Retry-After retried, a 429 given up on, a reply that breaks off.
- CONFAB_CLEANUP_BEFORE_TEST: pytest run in a subprocess on a throwaway test, with the
  clean-up working and with Confab unreachable (a warning, and the test still runs and passes).

`confab_cli` runs `.build/debug/confab`, or CONFAB_CLI_BINARY when set.
"""
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import ROOT, confab_cli, free_port

ADMIN_TOKEN = "admin-token-for-the-cli-tests-" + "a" * 8
PASSWORD = "correct-horse-9"
SESSION = re.compile(r"session: ([0-9a-f-]{36})")


@pytest.fixture
def confab(redis_url, test_upstream, start_confab):
    return start_confab(redis_url, test_upstream + "/v1", CONFAB_ADMIN_TOKEN=ADMIN_TOKEN, CONFAB_BCRYPT_COST=4)


def register(base, username=None):
    """A new user; answers their first API key."""
    reply = requests.post(f"{base}/api/v1/auth/register",
                          json={"username": username or f"cli-{uuid.uuid4().hex[:10]}", "password": PASSWORD}, timeout=30)
    assert reply.status_code == 201, reply.text
    return reply.json()["api_key"]["key"]


def as_user(base, key):
    return {"CONFAB_URL": base, "CONFAB_API_KEY": key}


def ok(done):
    assert done.returncode == 0, f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    return done


def json_out(done):
    return json.loads(ok(done).stdout)


# --- The commands --------------------------------------------------------------------------------

def test_chat_one_message_then_sessions(confab):
    env = as_user(confab, register(confab))
    done = ok(confab_cli("chat", "hello from the command line", env=env))
    assert "hello from the command line" in done.stdout
    session = SESSION.search(done.stderr).group(1)

    listed = json_out(confab_cli("sessions", "list", "--json", env=env))
    assert [s["id"] for s in listed] == [session]
    assert listed[0]["message_count"] == 2

    again = ok(confab_cli("chat", "--session", session, "second turn", env=env))
    assert "second turn" in again.stdout

    shown = json_out(confab_cli("sessions", "show", session, "--json", env=env))
    assert shown["session"]["id"] == session
    assert [m["role"] for m in shown["messages"]] == ["user", "assistant", "user", "assistant"]
    assert shown["messages"][2]["content"] == "second turn"
    people = ok(confab_cli("sessions", "show", session, env=env)).stdout
    assert "user: hello from the command line" in people and "assistant:" in people
    assert session in ok(confab_cli("sessions", "list", env=env)).stdout


def test_chat_reads_stdin_until_quit(confab):
    env = as_user(confab, register(confab))
    done = ok(confab_cli("chat", env=env, input="first line\n\nsecond line\n/quit\nnever sent\n"))
    assert "first line" in done.stdout and "second line" in done.stdout and "never sent" not in done.stdout
    session = SESSION.search(done.stderr).group(1)
    assert f"--session {session}" in done.stderr
    assert json_out(confab_cli("sessions", "list", "--json", env=env))[0]["message_count"] == 4


def test_chat_json_reply(confab):
    env = as_user(confab, register(confab))
    reply = json_out(confab_cli("chat", "--json", "machine readable", env=env))
    assert reply["status"] == "complete" and "machine readable" in reply["content"]
    assert reply["usage"]["total_tokens"] > 0 and reply["message_id"]


def test_sessions_delete_and_delete_all(confab):
    env = as_user(confab, register(confab))
    ids = [requests.post(f"{confab}/chat/start", headers={"Authorization": f"Bearer {env['CONFAB_API_KEY']}"},
                         timeout=10).json()["session_id"] for _ in range(3)]
    done = ok(confab_cli("sessions", "delete", ids[0], ids[1], env=env))
    assert "deleting sessions: 2/2" in done.stderr
    assert [s["id"] for s in json_out(confab_cli("sessions", "list", "--json", env=env))] == [ids[2]]
    assert json_out(confab_cli("sessions", "delete-all", "--json", env=env)) == {"deleted": 1}
    assert json_out(confab_cli("sessions", "list", "--json", env=env)) == []


def test_agents(confab):
    env = as_user(confab, register(confab))
    templates = json_out(confab_cli("agents", "templates", "--json", env=env))
    assert "friendly-assistant" in {t["id"] for t in templates}

    agent = json_out(confab_cli("agents", "create", "--name", "Helper", "--template", "friendly-assistant",
                                "--temperature", "0.5", "--json", env=env))
    assert agent["id"].startswith("agt_") and agent["temperature"] == 0.5
    assert [a["id"] for a in json_out(confab_cli("agents", "list", "--json", env=env))] == [agent["id"]]
    assert "Helper" in ok(confab_cli("agents", "show", agent["id"], env=env)).stdout

    chat = ok(confab_cli("chat", "--agent", agent["id"], "hi agent", env=env))
    session = SESSION.search(chat.stderr).group(1)
    assert json_out(confab_cli("sessions", "show", session, "--json", env=env))["session"]["persona"] == agent["id"]

    ok(confab_cli("agents", "delete", agent["id"], env=env))
    assert json_out(confab_cli("agents", "list", "--json", env=env)) == []
    assert confab_cli("agents", "show", agent["id"], env=env).returncode == 4
    assert confab_cli("agents", "create", "--name", "X", "--template", "no-such-template", env=env).returncode == 2


def test_keys(confab):
    env = as_user(confab, register(confab))
    key = json_out(confab_cli("keys", "create", "--name", "ci", "--json", env=env))
    assert key["key"].startswith("cfk_") and key["name"] == "ci"
    listed = json_out(confab_cli("keys", "list", "--json", env=env))
    assert key["id"] in {k["id"] for k in listed} and all("key" not in k for k in listed)
    plain = ok(confab_cli("keys", "create", env=env))
    assert plain.stdout.strip().startswith("cfk_") and "not shown again" in plain.stderr

    ok(confab_cli("sessions", "list", env=as_user(confab, key["key"])))
    ok(confab_cli("keys", "revoke", key["id"], env=env))
    assert confab_cli("sessions", "list", env=as_user(confab, key["key"])).returncode == 3
    assert confab_cli("keys", "revoke", key["id"], env=env).returncode == 4


def test_cleanup_deletes_every_session_and_verifies(confab):
    env = as_user(confab, register(confab))
    for n in range(3):
        ok(confab_cli("chat", f"message {n}", env=env))
    other = as_user(confab, register(confab))
    ok(confab_cli("chat", "someone else's", env=other))

    done = ok(confab_cli("cleanup", env=env))
    assert "found 3 session(s)" in done.stderr and "deleted 3" in done.stderr
    assert "0 session(s) left" in done.stderr and "verified" in done.stderr
    assert json_out(confab_cli("sessions", "list", "--json", env=env)) == []
    assert len(json_out(confab_cli("sessions", "list", "--json", env=other))) == 1

    report = json_out(confab_cli("cleanup", "--json", env=env))
    assert report == {"scope": "sessions", "found": 0, "deleted": 0, "remaining": 0, "verified": True}


def test_cleanup_by_prefix_with_the_admin_token(confab):
    prefix = f"cli-pfx-{uuid.uuid4().hex[:6]}-"
    doomed = [register(confab, prefix + name) for name in ("a", "b")]
    kept = register(confab)
    ok(confab_cli("chat", "soon gone", env=as_user(confab, doomed[0])))

    assert confab_cli("cleanup", "--prefix", prefix, env={"CONFAB_URL": confab}).returncode == 2
    wrong = confab_cli("cleanup", "--prefix", prefix, env={"CONFAB_URL": confab, "CONFAB_ADMIN_TOKEN": "x" * 30})
    assert wrong.returncode == 3

    done = confab_cli("cleanup", "--prefix", prefix, "--json", env={"CONFAB_URL": confab, "CONFAB_ADMIN_TOKEN": ADMIN_TOKEN})
    report = json_out(done)
    assert report["deleted"] == 2 and report["remaining"] == 0 and report["verified"]
    assert sorted(report["usernames"]) == [prefix + "a", prefix + "b"]
    assert "0 user(s) left" in done.stderr
    for key in doomed:
        assert confab_cli("sessions", "list", env=as_user(confab, key)).returncode == 3
    ok(confab_cli("sessions", "list", env=as_user(confab, kept)))


def test_exit_statuses(confab):
    env = as_user(confab, register(confab))
    wrong = confab_cli("sessions", "list", env=as_user(confab, "cfk_wrong"))
    assert wrong.returncode == 3 and "error:" in wrong.stderr
    assert confab_cli("sessions", "show", str(uuid.uuid4()), env=env).returncode == 4
    assert confab_cli("chat", "--session", str(uuid.uuid4()), "hi", env=env).returncode == 4
    unreachable = confab_cli("sessions", "list", env=as_user(f"http://127.0.0.1:{free_port()}", "k"))
    assert unreachable.returncode == 6 and "cannot reach" in unreachable.stderr
    assert confab_cli("sessions", "list", "--no-such-flag", env=env).returncode == 2
    assert confab_cli("sessions", "delete", env=env).returncode == 2
    assert "7 verification failed" in " ".join(ok(confab_cli("cleanup", "--help")).stdout.split())


def test_rate_limited_is_exit_5(redis_url, test_upstream, start_confab):
    base = start_confab(redis_url, test_upstream + "/v1", CONFAB_BCRYPT_COST=4, CONFAB_RATE_REQUESTS_PER_MINUTE=2)
    env = as_user(base, register(base))
    statuses = [confab_cli("sessions", "list", env=env).returncode for _ in range(4)]
    assert statuses[0] == 0 and statuses[-1] == 5, statuses


# --- The stream client against a scripted server ---------------------------------------------------

START = b'data: {"type":"start","session_id":"s","message_id":"m","user_message_id":"u"}\r\n\r\n'
FINISH = b'data: {"type":"finish","message_id":"m","status":"complete","finish_reason":"stop"}\r\r'
# Events split inside JSON, inside a CRLF pair and inside a UTF-8 sequence; a comment; all line ends.
SPLIT_REPLY = [b": keep-alive\n\n", START[:20], START[20:], b'data: {"content":"Hel', b'lo"}\r', b"\n\r\n",
               b'data: {"content":" w\xc3', b'\xb6rld"}\n', b"\n", b"data: {\"type\":\"step_start\",\"step\":1}\n\n",
               FINISH, b"data: [DONE]\n\n"]


class ScriptedConfab(ThreadingHTTPServer):
    """Answers POST /chat/stream from a script: ("status", code, headers) refuses; ("stream",
    chunks, whole) sends the chunks one by one (chunked encoding) and, unless whole, cuts the
    connection without ending the body."""
    daemon_threads = True

    def __init__(self, script):
        super().__init__(("127.0.0.1", 0), ScriptedHandler)
        self.script = list(script)
        self.streams = 0


class ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.streams += 1
        kind, *plan = self.server.script.pop(0)
        if kind == "status":
            code, headers = plan
            body = json.dumps({"error": {"message": "try later", "type": "x", "code": f"scripted_{code}"}}).encode()
            self.send_response(code)
            for name, value in {**headers, "Content-Length": str(len(body)), "Content-Type": "application/json"}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            return
        chunks, whole = plan
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
            time.sleep(0.02)
        if whole:
            self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True


@pytest.fixture
def scripted():
    servers = []

    def serve(*script):
        server = ScriptedConfab(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, {"CONFAB_URL": f"http://127.0.0.1:{server.server_port}", "CONFAB_API_KEY": "k"}

    yield serve
    for server in servers:
        server.shutdown()


def test_stream_parsed_from_split_events_after_a_503(scripted):
    server, env = scripted(("status", 503, {"Retry-After": "1"}), ("stream", SPLIT_REPLY, True))
    started = time.monotonic()
    done = ok(confab_cli("chat", "--session", str(uuid.uuid4()), "hi", env=env))
    assert done.stdout == "Hello wörld\n"
    assert server.streams == 2 and time.monotonic() - started >= 1.0


def test_stream_gives_up_on_429_after_the_attempts(scripted):
    server, env = scripted(*[("status", 429, {"Retry-After": "0"})] * 4)
    done = confab_cli("chat", "--session", str(uuid.uuid4()), "hi", env=env)
    assert done.returncode == 5 and server.streams == 4 and "scripted_429" in done.stderr


def test_stream_that_breaks_off_is_interrupted(scripted):
    server, env = scripted(("stream", [START, b'data: {"content":"Hel"}\n\n', b'data: {"content":"lo"'], False))
    done = confab_cli("chat", "--session", str(uuid.uuid4()), "hi", env=env)
    assert done.returncode == 6 and done.stdout == "Hel\n"
    assert "broke off" in done.stderr and server.streams == 1


# --- CONFAB_CLEANUP_BEFORE_TEST ------------------------------------------------------------------

def run_inner_pytest(tmp_path, env, test_body):
    """pytest in a subprocess on one throwaway test, with system-tests/conftest.py as a plugin."""
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(test_body))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider",
                           str(tmp_path / "test_inner.py")],
                          cwd=tmp_path, env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "system-tests"), **env),
                          capture_output=True, text=True, timeout=180)


def test_cleanup_before_test_empties_the_sessions_first(confab, tmp_path):
    env = as_user(confab, register(confab))
    for n in range(2):
        ok(confab_cli("chat", f"left over {n}", env=env))
    done = run_inner_pytest(tmp_path, {**env, "CONFAB_CLEANUP_BEFORE_TEST": "true"}, """
        import os, requests

        def test_starts_clean():
            reply = requests.get(os.environ["CONFAB_URL"] + "/chat/sessions", timeout=10,
                                 headers={"Authorization": "Bearer " + os.environ["CONFAB_API_KEY"]})
            assert reply.json()["total"] == 0
        """)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "found 2 session(s)" in done.stdout and "verified" in done.stdout and "1 passed" in done.stdout


def test_cleanup_before_test_failing_only_warns(tmp_path):
    env = {"CONFAB_URL": f"http://127.0.0.1:{free_port()}", "CONFAB_API_KEY": "k", "CONFAB_CLEANUP_BEFORE_TEST": "true"}
    done = run_inner_pytest(tmp_path, env, """
        def test_still_runs():
            assert True
        """)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "confab cleanup failed (exit status 6); the tests run anyway" in done.stdout
    assert "1 passed" in done.stdout


def test_cleanup_before_test_by_prefix(confab, tmp_path):
    prefix = f"cli-pre-{uuid.uuid4().hex[:6]}-"
    key = register(confab, prefix + "a")
    env = {"CONFAB_URL": confab, "CONFAB_CLEANUP_BEFORE_TEST": "true", "CONFAB_CLEANUP_PREFIX": prefix,
           "CONFAB_ADMIN_TOKEN": ADMIN_TOKEN, "GONE_KEY": key}
    done = run_inner_pytest(tmp_path, env, """
        import os, requests

        def test_the_user_is_gone():
            reply = requests.get(os.environ["CONFAB_URL"] + "/api/v1/me", timeout=10,
                                 headers={"Authorization": "Bearer " + os.environ["GONE_KEY"]})
            assert reply.status_code == 401
        """)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"confab cleanup --prefix {prefix}" in done.stdout and "0 user(s) left" in done.stdout
