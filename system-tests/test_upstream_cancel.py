"""Confab stops asking the model once nobody needs the reply, seen from the model server's side.

The model server here is a small Python server in this process, so the test watches its side of
the connection itself: when did its socket to Confab go away? (A real model server keeps
generating for nobody until it notices; vLLM and llama.cpp watch for exactly this.)
"""
import http.client
import select
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from conftest import free_port


class WatchingUpstream:
    """An OpenAI-style streaming server that records when the reader of each stream went away.

    mode "stream": 200 deltas 40 ms apart (a write fails once Confab closed the connection);
    mode "hang": the response head, then silence (it notices a close by reading end of file).
    """

    def __init__(self, mode):
        self.mode = mode
        self.opened = []
        self.gone = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                upstream.opened.append(time.monotonic())
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.flush()
                try:
                    if upstream.mode == "hang":
                        while True:
                            readable, _, _ = select.select([self.connection], [], [], 0.02)
                            if readable and not self.connection.recv(1):
                                raise ConnectionResetError("end of file")
                    for n in range(200):
                        chunk = '{"choices":[{"index":0,"delta":{"content":"w%d "}}]}' % n
                        self.wfile.write(f"data: {chunk}\n\n".encode())
                        self.wfile.flush()
                        time.sleep(0.04)
                    self.wfile.write(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
                except (BrokenPipeError, ConnectionResetError):
                    upstream.gone.append(time.monotonic())
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_gone(self, seconds):
        deadline = time.monotonic() + seconds
        while not self.gone and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.gone[0] if self.gone else None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def start_session(base, user):
    reply = requests.post(f"{base}/chat/start", params={"user_id": user}, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()["session_id"]


def leave_after(base, path, texts=0, upstream=None):
    """Streams on a plain socket and closes it for real after `texts` text events, or, with
    `upstream`, once the stream has started and the model server has been asked."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    received = b""
    sock.settimeout(10)
    while received.count(b'data: {"content"') < texts or b'"type":"start"' not in received:
        chunk = sock.recv(4096)
        assert chunk, f"the stream ended early: {received[-300:]!r}"
        received += chunk
    if upstream is not None:
        deadline = time.monotonic() + 10
        while not upstream.opened and time.monotonic() < deadline:
            time.sleep(0.01)
        assert upstream.opened, "the model server was never asked"
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    return time.monotonic()


def stored_reply(base, user, session, seconds=5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        messages = requests.get(f"{base}/chat/history", params={"user_id": user, "session_id": session}, timeout=5).json()["messages"]
        replies = [m for m in messages if m["role"] == "assistant"]
        if replies:
            return replies
        time.sleep(0.05)
    return []


def test_a_client_that_leaves_stops_the_model(redis_url, start_confab):
    """The browser tab closes after 3 words: the model server sees its reader go at once (not 8 s
    later, when the reply would have ended), and the words seen so far are stored as a partial."""
    upstream = WatchingUpstream("stream")
    try:
        base = start_confab(redis_url, upstream.url)
        for attempt in range(5):
            user = f"gone-{uuid.uuid4().hex[:8]}"
            session = start_session(base, user)
            left = leave_after(base, f"/chat/stream?user_id={user}&session_id={session}&message=go", texts=3)
            gone = upstream.wait_gone(3)
            assert gone is not None, f"attempt {attempt}: the model server still streams 3 s after the client left"
            assert gone - left < 1.5, f"attempt {attempt}: the model server noticed {gone - left:.2f} s after the client left"
            replies = stored_reply(base, user, session)
            assert [(r["status"], r.get("reason")) for r in replies] == [("partial", "client_disconnected")]
            assert replies[0]["content"].startswith("w0 w1 w2")
            upstream.gone.clear()
    finally:
        upstream.close()


def test_a_hung_model_is_hung_up_on_at_the_deadline(redis_url, start_confab):
    """A model server that sends nothing after its response head: at the first-token deadline the
    client is told, and the model server sees the connection closed."""
    upstream = WatchingUpstream("hang")
    try:
        base = start_confab(redis_url, upstream.url, CONFAB_FIRST_TOKEN_TIMEOUT="0.5")
        user = f"hang-{uuid.uuid4().hex[:8]}"
        session = start_session(base, user)
        reply = requests.get(f"{base}/chat/stream", params={"user_id": user, "session_id": session, "message": "hi"}, timeout=10)
        assert '"code":"upstream_timeout_first_token"' in reply.text
        asked = upstream.opened[0]
        gone = upstream.wait_gone(3)
        assert gone is not None and gone - asked < 2.5, "the hung request was closed after the deadline"
    finally:
        upstream.close()


def test_a_client_that_leaves_while_the_model_is_silent_stops_it(redis_url, start_confab):
    """The client goes while the model has not said a word: nothing is written to notice the
    close by, yet the model server sees its reader go at once, and the empty partial is stored."""
    upstream = WatchingUpstream("hang")
    try:
        base = start_confab(redis_url, upstream.url)  # the default 60 s first-token deadline
        user = f"quiet-{uuid.uuid4().hex[:8]}"
        session = start_session(base, user)
        left = leave_after(base, f"/chat/stream?user_id={user}&session_id={session}&message=go", upstream=upstream)
        gone = upstream.wait_gone(5)
        assert gone is not None, "the model server still waits 5 s after the client left"
        assert gone - left < 1.5, f"the model server noticed {gone - left:.2f} s after the client left"
        replies = stored_reply(base, user, session)
        assert [(r["status"], r.get("reason")) for r in replies] == [("partial", "client_disconnected")]
    finally:
        upstream.close()


def test_streamed_turns_follow_one_another_on_one_connection(redis_url, test_upstream, start_confab):
    """A client that keeps its connection (every HTTP/1.1 client does) streams turn after turn on
    it: the server does not close it after a streamed reply."""
    base = start_confab(redis_url, test_upstream + "/v1")
    user = f"kept-{uuid.uuid4().hex[:8]}"
    session = start_session(base, user)
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        first_socket = None
        for n in range(3):
            connection.request("GET", f"/chat/stream?user_id={user}&session_id={session}&message=turn{n}",
                               headers={"Accept": "text/event-stream"})
            response = connection.getresponse()
            body = response.read().decode()
            assert response.status == 200, body
            assert '"type":"finish"' in body and body.rstrip().endswith("data: [DONE]"), body[-300:]
            assert not response.will_close, "the server asked to close the connection after a streamed reply"
            first_socket = first_socket or connection.sock
            assert connection.sock is first_socket, f"turn {n} needed a new connection"
    finally:
        connection.close()
    messages = requests.get(f"{base}/chat/history", params={"user_id": user, "session_id": session}, timeout=5).json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
