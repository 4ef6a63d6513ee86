"""A soak: steady load with normal turns, model failures and clients leaving. At the end the
stored messages match what the clients saw, and Confab's memory and open files have not grown.

Short in CI (CONFAB_SOAK_SECONDS, default 20); the long run is
    CONFAB_SOAK_SECONDS=1800 .venv/bin/python -m pytest -q system-tests/test_soak.py
"""
import os
import threading
import time

import requests

SECONDS = float(os.environ.get("CONFAB_SOAK_SECONDS", "20"))
CLIENTS = int(os.environ.get("CONFAB_SOAK_CLIENTS", "16"))


def process_figures(pid):
    rss = int(next(line for line in open(f"/proc/{pid}/status") if line.startswith("VmRSS:")).split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def one_turn(base, user, session, kind, n):
    """Streams one turn; returns the ending the client saw: complete, error or left (or busy:
    refused with 409 because the session's previous reply is still being stored)."""
    message = {"normal": f"[[tokens=20]] [[delay=5]] turn {n}",
               "failure": f"[[fault={'http500' if n % 2 else 'cut'}]] a b c d {n}",
               "leave": f"[[tokens=400]] [[delay=5]] leave {n}"}[kind]
    with requests.get(f"{base}/chat/stream", params={"user_id": user, "session_id": session, "message": message},
                      stream=True, timeout=30) as reply:
        if reply.status_code == 409:
            return "busy"  # the last turn's partial is still being stored: nothing was written
        assert reply.status_code == 200, reply.text
        texts = 0
        for line in reply.iter_lines():
            if not line.startswith(b"data: "):
                continue
            if line.startswith(b'data: {"content"'):
                texts += 1
                if kind == "leave" and texts >= 3:
                    return "left"  # closes the connection mid-stream
            if b'"status":"complete"' in line:
                return "complete"
            if b'"error"' in line:
                return "error"
    raise AssertionError(f"{kind} turn ended without an ending event")


def test_soak(redis_url, test_upstream, start_confab, user_id):
    base = start_confab(redis_url, test_upstream + "/v1", CONFAB_HISTORY_CAP=10000)
    pid = base.pid
    seen = {}  # session -> [endings]
    errors = []
    deadline = time.time() + SECONDS

    def client(index):
        user = f"{user_id}-{index}"
        session = requests.post(f"{base}/chat/start", params={"user_id": user}).json()["session_id"]
        seen[(user, session)] = endings = []
        n = 0
        try:
            while time.time() < deadline:
                n += 1
                kind = "failure" if n % 7 == 0 else "leave" if n % 5 == 0 else "normal"
                ending = one_turn(base, user, session, kind, n)
                if ending == "busy":
                    time.sleep(0.05)
                else:
                    endings.append(ending)
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(repr(error))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(min(5, SECONDS / 4))
    warm = process_figures(pid)
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]

    # Every partial is stored once its turn ends; the upstream closes its side within moments.
    stats_deadline = time.time() + 10
    while requests.get(test_upstream + "/stats").json()["active"] and time.time() < stats_deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    turns = 0
    for (user, session), endings in seen.items():
        messages = requests.get(f"{base}/chat/history", params={"user_id": user, "session_id": session}).json()["messages"]
        assert len(messages) == 2 * len(endings), f"{session}: {len(messages)} stored for {len(endings)} turns"
        stored = [m["status"] for m in messages if m["role"] == "assistant"]
        expected = [{"complete": "complete", "error": "error", "left": "partial"}[e] for e in endings]
        assert stored == expected, f"{session}: stored {stored[:10]} for endings {expected[:10]}"
        turns += len(endings)
    assert turns >= CLIENTS * 3, f"only {turns} turns in {SECONDS} s"

    end = process_figures(pid)
    print(f"soak: {turns} turns in {SECONDS:.0f} s; RSS {warm[0]} -> {end[0]} KB; open files {warm[1]} -> {end[1]}")
    assert end[0] <= warm[0] * 1.5 + 20_000, f"RSS grew from {warm[0]} KB to {end[0]} KB"
    assert end[1] <= warm[1] + 20, f"open files grew from {warm[1]} to {end[1]}"
