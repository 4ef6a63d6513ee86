"""Confab's WebSocket chat (`/chat/ws`, docs/WEBSOCKET.md) from a real headless Chromium, against
real Confab (CONFAB_AUTH=required), Redis and the test upstream.

A browser's WebSocket cannot set headers, so it signs in with a single-use stream ticket: the page
fetches one with the user's key (`POST /api/v1/auth/ticket`), then opens
`ws://<host>/chat/ws?ticket=<ticket>`. Everything in the browser runs in the page's own context
(Confab's page, on Confab's origin) through `execute_async_script`; each script closes its socket
before it answers. What the browser saw is then checked here, and what was stored over HTTP.
"""
import json

import pytest
import requests
from selenium.webdriver.support.ui import WebDriverWait

from doors import SETTINGS, bearer, register, sessions, settled_history
from test_browser_identity import browser  # noqa: F401  (Chromium with its network log)
from test_websocket import TIMEOUT, assert_a_turn, is_ending, refusal_of, refused_status, reply_to

SCRIPT_SECONDS = 60
# What the page does: the helpers each script starts with. `done` answers the script; every path
# to it closes the socket first and waits (a little) for its close event.
PRELUDE = """
const done = arguments[arguments.length - 1];
const log = {ticket_status: null, ticket: null, events: [], frames: [], unparsed: []};
let ws = null, settled = false;
const stamp = () => Math.round(performance.now());
function answer(why) {
    if (settled) return;
    settled = true;
    log.why = why;
    if (!ws || ws.readyState === WebSocket.CLOSED) { done(log); return; }
    const fallback = setTimeout(() => done(log), 5000);
    ws.addEventListener('close', () => { clearTimeout(fallback); done(log); });
    try { ws.close(1000, 'test done'); } catch (e) { log.events.push(['close-threw', String(e), stamp()]); }
}
setTimeout(() => answer('script timed out (50 s)'), 50000);
async function getTicket(key) {
    const r = await fetch('/api/v1/auth/ticket', {method: 'POST', headers: {Authorization: 'Bearer ' + key}});
    log.ticket_status = r.status;
    const body = await r.json();
    log.ticket = body.ticket || null;
    if (!log.ticket) log.ticket_body = body;
    return log.ticket;
}
function openSocket(ticket) {
    ws = new WebSocket('ws://' + location.host + '/chat/ws?ticket=' + encodeURIComponent(ticket));
    ws.onopen = () => log.events.push(['open', stamp()]);
    ws.onerror = () => log.events.push(['error', stamp()]);
    ws.onclose = (e) => log.events.push(['close', e.code, e.reason, e.wasClean, stamp()]);
    return ws;
}
"""

# Gets a ticket with the key, opens the socket, sends `frames` once it opens, and answers when
# every request id in `wait_for` has ended (its `finish` or `error`), or the socket closed.
CHAT = PRELUDE + """
const [key, frames, waitFor] = arguments;
const ended = new Set();
getTicket(key).then((ticket) => {
    if (!ticket) { answer('no ticket'); return; }
    openSocket(ticket);
    ws.addEventListener('open', () => frames.forEach((f) => ws.send(JSON.stringify(f))));
    ws.addEventListener('message', (m) => {
        let frame;
        try { frame = JSON.parse(m.data); } catch (e) { log.unparsed.push(String(m.data)); return; }
        log.frames.push(frame);
        if (frame.request_id && (frame.type === 'finish' || frame.type === 'error')) ended.add(frame.request_id);
        if (waitFor.every((id) => ended.has(id))) answer('all ended');
    });
    ws.addEventListener('close', () => answer('socket closed'));
}).catch((e) => { log.events.push(['exception', String(e), stamp()]); answer('exception'); });
"""

# Opens the socket with a ticket already used; answers the events it saw, once it closed.
REUSE = PRELUDE + """
const [ticket] = arguments;
log.ticket = ticket;
openSocket(ticket);
ws.addEventListener('message', (m) => log.frames.push(String(m.data)));
ws.addEventListener('close', () => answer('socket closed'));
"""


@pytest.fixture
def confab(browser, redis_url, test_upstream, start_confab):  # noqa: F811
    """Confab that answers no one without credentials, and the browser on its page."""
    base = start_confab(redis_url, test_upstream + "/v1", **SETTINGS, CONFAB_AUTH="required")
    browser.set_script_timeout(SCRIPT_SECONDS)
    browser.get(base + "/")
    WebDriverWait(browser, TIMEOUT).until(lambda d: d.execute_script("return document.readyState") == "complete")
    assert browser.execute_script("return location.origin") == base
    browser.get_log("performance")  # the page's own requests: not what the tests look at
    return browser, base


def chat_frame(request_id, message, **fields):
    return {"type": "chat", "request_id": request_id, "message": message, **fields}


def run_chat(driver, key, frames, wait_for):
    log = driver.execute_async_script(CHAT, key, frames, wait_for)
    assert log["ticket_status"] == 201 and (log["ticket"] or "").startswith("cft_"), log
    assert not log["unparsed"], f"frames that are not JSON: {log['unparsed']}"
    assert log["why"] == "all ended", f"the turns did not all end ({log['why']}): {json.dumps(log, indent=1)[:4000]}"
    kinds = [event[0] for event in log["events"]]
    assert kinds[0] == "open" and "error" not in kinds, log["events"]
    assert kinds[-1] == "close", f"the script closes its socket: {log['events']}"
    return log


def frames_of(log, request_id):
    return [f for f in log["frames"] if f.get("request_id") == request_id]


def handshakes(driver, ticket):
    """What Chromium's network log shows for each WebSocket whose URL carries `ticket`: the
    handshake's HTTP status, or the error that ended it before it opened."""
    outcomes, urls = {}, {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.webSocketCreated":
            urls[params["requestId"]] = params["url"]
            continue
        if ticket not in urls.get(params.get("requestId"), ""):
            continue
        if message["method"] == "Network.webSocketHandshakeResponseReceived":
            outcomes.setdefault(params["requestId"], params["response"]["status"])
        elif message["method"] == "Network.webSocketFrameError":
            outcomes.setdefault(params["requestId"], params["errorMessage"])
    return [outcomes.get(request_id) for request_id in urls if ticket in urls[request_id]]


def test_a_browser_chats_over_the_websocket_with_a_stream_ticket(confab):
    driver, base = confab
    key = register(base)
    message = "hello from the browser"
    log = run_chat(driver, key, [chat_frame("b1", message)], ["b1"])

    frames = frames_of(log, "b1")
    assert frames == log["frames"], "every frame belongs to the one request"
    session = assert_a_turn(frames, "b1", message, new_session=True)
    assert frames[0]["type"] == "session" and frames[1]["type"] == "start"
    assert "".join(f["content"] for f in frames if "content" in f and "type" not in f) == reply_to(message) == \
        "Echo: hello from the browser"
    assert frames[-1]["type"] == "finish" and frames[-1]["status"] == "complete"
    assert [event[0] for event in log["events"]] == ["open", "close"] and log["events"][-1][1] == 1000, log["events"]

    assert settled_history(base, key, session, 2) == [("user", message), ("assistant", reply_to(message))]
    assert [s["id"] for s in sessions(base, key)] == [session]


def test_a_used_ticket_never_opens_a_second_socket(confab):
    driver, base = confab
    key = register(base)
    first = run_chat(driver, key, [chat_frame("b1", "first use")], ["b1"])
    session = assert_a_turn(frames_of(first, "b1"), "b1", "first use", new_session=True)
    ticket = first["ticket"]
    assert handshakes(driver, ticket) == [101]

    again = driver.execute_async_script(REUSE, ticket)
    kinds = [event[0] for event in again["events"]]
    assert again["why"] == "socket closed", again
    assert "open" not in kinds, f"the used ticket opened a socket: {again['events']}"
    assert kinds == ["error", "close"], again["events"]
    close = again["events"][-1]
    assert close[1] == 1006 and close[3] is False, f"an abnormal close, never a clean one: {close}"
    assert again["frames"] == [], again["frames"]
    # Chromium keeps a refused handshake's status from the page; its network log names a 401
    # (with a WWW-Authenticate challenge) this way ("Unexpected response code: N" for others).
    assert handshakes(driver, ticket) == ["HTTP Authentication failed; no valid credentials available"]
    assert refused_status(base, query=f"ticket={ticket}") == 401, "the upgrade is answered 401"

    # The refused socket changed nothing; the key still works.
    assert settled_history(base, key, session, 2) == [("user", "first use"), ("assistant", reply_to("first use"))]
    assert [s["id"] for s in sessions(base, key)] == [session]
    assert requests.get(f"{base}/chat/sessions", headers=bearer(key), timeout=TIMEOUT).status_code == 200


def test_two_turns_at_once_on_one_browser_socket(confab):
    driver, base = confab
    key = register(base)
    messages = {"b1": "first of two [[tokens=20]]", "b2": "second of two [[tokens=20]]"}
    log = run_chat(driver, key, [chat_frame(rid, text) for rid, text in messages.items()], list(messages))

    assert not [f for f in log["frames"] if f.get("request_id") not in messages], log["frames"]
    assert not [f for f in log["frames"] if refusal_of(f)], log["frames"]
    made = {rid: assert_a_turn(frames_of(log, rid), rid, text, new_session=True) for rid, text in messages.items()}
    assert made["b1"] != made["b2"], "two new sessions"
    # At once: both turns started before either ended.
    order = [(f["request_id"], f.get("type")) for f in log["frames"]]
    first_end = next(i for i, f in enumerate(log["frames"]) if is_ending(f))
    assert {rid for rid, kind in order[:first_end] if kind == "start"} == set(messages), order

    for rid, text in messages.items():
        assert settled_history(base, key, made[rid], 2) == [("user", text), ("assistant", reply_to(text))]
    assert sorted(s["id"] for s in sessions(base, key)) == sorted(made.values())
