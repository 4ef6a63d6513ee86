"""End to end: a real turn against the real local model (SmolLM2-135M via llama.cpp)."""
import json
import time

import requests


def test_a_turn_with_the_local_model(redis_url, local_model, start_confab, user_id):
    base = start_confab(redis_url, local_model, OPENAI_MODEL="SmolLM2-135M-Instruct", CONFAB_MAX_REPLY_TOKENS=48)
    session = requests.post(f"{base}/chat/start", json={"user_id": user_id}).json()["session_id"]
    for question in ("What is the capital of France?", "And what language do people speak there?"):
        started = time.perf_counter()
        first_token = None
        events = []
        with requests.get(f"{base}/chat/stream", params={"user_id": user_id, "session_id": session, "message": question},
                          stream=True, timeout=120) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/event-stream"
            for line in response.iter_lines(decode_unicode=True):
                if not line.startswith("data: "):
                    continue
                data = line[len("data: "):]
                events.append(data)
                if first_token is None and data.startswith('{"content"'):
                    first_token = time.perf_counter() - started
        total = time.perf_counter() - started
        assert events[-1] == "[DONE]"
        finish = json.loads(events[-2])
        assert finish["status"] == "complete", finish
        assert finish["finish_reason"] in ("stop", "length")
        assert finish["usage"]["completion_tokens"] > 0
        text = "".join(json.loads(e).get("content", "") for e in events[:-1])
        assert text.strip(), "the model said something"
        print(f"\nlocal model: time to first token {first_token * 1000:.0f} ms, whole turn {total * 1000:.0f} ms, "
              f"{finish['usage']['completion_tokens']} tokens: {text[:80]!r}")

    history = requests.get(f"{base}/chat/history", params={"user_id": user_id, "session_id": session}).json()
    assert [m["role"] for m in history["messages"]] == ["user", "assistant", "user", "assistant"]
    assert all(m["status"] == "complete" for m in history["messages"])
    assert history["messages"][1]["model"] == "SmolLM2-135M-Instruct"
