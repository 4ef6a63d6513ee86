"""The integration runner, `confab integration`, against real processes: a redis-server, the test
upstream (which echoes the last user message and fails on `[[fault=…]]` directives) and Confab with
an admin token.

- A whole run, 3 users × 2 agents × 5 messages: the JSON report (30 turns, all successful, sane
  latencies, every phase counted, the clean-up verified), the HTML page with its charts, and the
  admin API finding nothing left under the prefix.
- The model failing in some turns: the runner exits 8, the report lists each failure with its
  error, and the clean-up still runs and is verified.
- A turn that never ends: it times out, `stop` frees its session, and the conversation goes on.
- `--no-cleanup` (with `--json`), and a run killed half-way: `confab cleanup --prefix` removes
  everything after; a wrong admin token fails before anything is made.
- `scripts/stack.sh start | status | test | stop`, end to end, in a folder of its own.

Every wait is on something a client can see (an exit, a line on stderr, a health check), with a
generous limit.
"""
import json
import os
import signal
import subprocess
import time
import uuid

import pytest
import requests

from conftest import CLI_BINARY, ROOT, confab_cli

ADMIN_TOKEN = "admin-token-for-the-integration-tests"
RUN_TIMEOUT = 300


@pytest.fixture
def confab(redis_url, test_upstream, start_confab):
    return start_confab(redis_url, test_upstream + "/v1", CONFAB_ADMIN_TOKEN=ADMIN_TOKEN, CONFAB_BCRYPT_COST=4)


def prefix():
    return f"it-{uuid.uuid4().hex[:8]}"


def integration(base, *args, admin=True, timeout=RUN_TIMEOUT):
    """Runs `confab integration` against `base` with the admin token in the environment."""
    env = {"CONFAB_URL": base}
    if admin:
        env["CONFAB_ADMIN_TOKEN"] = ADMIN_TOKEN
    return confab_cli("integration", *args, env=env, timeout=timeout)


def read_report(done, path):
    assert os.path.exists(path), f"no report; exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
    with open(path) as f:
        return json.load(f)


def users_left(base, under):
    """Deletes by prefix with the admin API and answers how many users it found: 0 when nothing is left."""
    r = requests.delete(f"{base}/api/v1/admin/users", params={"prefix": under},
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["deleted"]["users"]


def test_a_whole_run_reports_and_cleans_up(confab, tmp_path):
    under = prefix()
    path = str(tmp_path / "report.json")
    done = integration(confab, "--users", "3", "--agents", "2", "--messages", "5", "--prefix", under, "--report", path)
    report = read_report(done, path)
    assert done.returncode == 0, done.stderr
    assert "result: success" in done.stdout and "PHASE" in done.stdout and "whole reply" in done.stdout
    assert f"confab cleanup --prefix {under}" in done.stderr  # said first, for a run cut short
    assert "turns: 30/30" in done.stderr

    assert report["success"] is True and report["errors"] == []
    assert report["parameters"]["users"] == 3 and report["parameters"]["agents_per_user"] == 2
    assert report["parameters"]["messages_per_conversation"] == 5 and report["parameters"]["prefix"] == under
    assert report["started_at"] < report["ended_at"] and report["duration_seconds"] > 0
    assert report["users"] == {**report["users"], "attempted": 3, "succeeded": 3, "failed": 0}
    assert report["agents"]["total"]["succeeded"] == 6 and report["agents"]["total"]["failed"] == 0
    assert sum(t["succeeded"] for t in report["agents"]["per_template"]) == 6

    ws = report["websocket"]
    assert ws["scenarios"] == 6 and ws["connections_opened"] == 6 and ws["connections_failed"] == 0
    assert ws["conversations_succeeded"] == 6
    assert ws["turns_planned"] == 30 and ws["turns_succeeded"] == 30 and ws["turns_failed"] == 0
    assert ws["messages_sent"] == 30 and ws["messages_received"] == 30 and ws["success_rate"] == 1
    first, whole = ws["first_token_ms"], ws["reply_ms"]
    assert first["count"] == 30 and whole["count"] == 30
    # The test upstream waits 50 ms before its first piece and 40 ms between pieces.
    assert 50 <= first["min"] <= first["p50"] <= first["p95"] <= first["p99"] <= first["max"] < 30_000
    assert first["p50"] < whole["p50"] and whole["min"] >= 50 and whole["max"] < 60_000
    assert all(first[k] is not None for k in ("average", "p50", "p95", "p99"))

    turns = report["turns"]
    assert len(turns) == 30 and all("failure" not in t and t["first_token_ms"] <= t["reply_ms"] for t in turns)
    by_user = {}
    for t in turns:
        by_user.setdefault(t["user"], set()).add(t["template"])
    assert sorted(by_user) == [f"{under}-u{n}" for n in (1, 2, 3)]
    assert all(len(templates) == 2 for templates in by_user.values())  # different templates per user
    per_conversation = {}
    for t in turns:
        per_conversation.setdefault(t["agent"], []).append(t)
    assert len(per_conversation) == 6
    for conversation in per_conversation.values():
        assert [t["turn"] for t in conversation] == [1, 2, 3, 4, 5]
        assert len({t["session_id"] for t in conversation}) == 1  # one session, continued

    cleanup = report["cleanup"]
    assert cleanup["performed"] and cleanup["verified"] and cleanup["remaining_users"] == 0
    assert cleanup["users_still_signed_in"] == 0
    deleted = cleanup["deleted"]
    assert deleted["users"] == 3 and deleted["tenants"] == 3 and deleted["agents"] == 6
    assert deleted["sessions"] == 6 and deleted["keys"] == 3 and deleted["messages"] == 60
    assert users_left(confab, under) == 0

    html = (tmp_path / "report.html").read_text()
    for chart in ("reply-histogram", "first-token-histogram", "template-successes"):
        assert f'<svg id="{chart}"' in html
    assert "<rect" in html and "<script" not in html and "src=" not in html and "href=" not in html


def test_model_failures_are_reported_and_the_run_still_cleans_up(confab, tmp_path):
    under = prefix()
    topics = tmp_path / "topics.json"
    # Each conversation goes once through this list (users start at different places in it), so
    # every conversation meets the failing prompt exactly once.
    topics.write_text(json.dumps({"*": ["first question", "second question", "this one fails [[fault=error-event]]",
                                        "fourth question", "fifth question"]}))
    path = str(tmp_path / "report.json")
    done = integration(confab, "--users", "3", "--agents", "2", "--messages", "5", "--prefix", under,
                       "--report", path, "--topics", str(topics))
    report = read_report(done, path)
    assert done.returncode == 8, done.stderr
    assert "result: FAILED" in done.stdout and "error: turn" in done.stderr

    ws = report["websocket"]
    assert ws["turns_succeeded"] == 24 and ws["turns_failed"] == 6 and ws["success_rate"] == 0.8
    assert ws["connections_opened"] == 6 and ws["conversations_succeeded"] == 0
    assert ws["messages_received"] == 30  # a failed reply still ends with its error frame
    assert report["success"] is False
    errors = report["errors"]
    assert len(errors) == 6 and all(e["phase"] == "turn" and e["kind"] == "error_ending" for e in errors)
    assert all(e["message"] and e["user"].startswith(under) and e["agent"].startswith("agt_") and e["turn"] in range(1, 6)
               for e in errors)
    failed = [t for t in report["turns"] if "failure" in t]
    assert len(failed) == 6 and len({t["agent"] for t in failed}) == 6
    assert ws["reply_ms"]["count"] == 24  # latencies are of the successful turns

    cleanup = report["cleanup"]
    assert cleanup["verified"] and cleanup["deleted"]["users"] == 3 and cleanup["deleted"]["sessions"] == 6
    assert users_left(confab, under) == 0
    html = (tmp_path / "report.html").read_text()
    assert "error_ending" in html and "FAILED" in html


def test_a_turn_that_never_ends_times_out_and_the_conversation_goes_on(confab, tmp_path):
    under = prefix()
    topics = tmp_path / "topics.json"
    topics.write_text(json.dumps({"*": ["before", "never answered [[fault=hang-first]]", "after"]}))
    path = str(tmp_path / "report.json")
    started = time.monotonic()
    done = integration(confab, "--users", "1", "--agents", "1", "--messages", "3", "--prefix", under,
                       "--report", path, "--topics", str(topics), "--turn-timeout", "3")
    report = read_report(done, path)
    assert done.returncode == 8, done.stderr
    assert time.monotonic() - started < 120
    outcome = [(t["turn"], t.get("failure", {}).get("kind")) for t in report["turns"]]
    assert outcome == [(1, None), (2, "timed_out"), (3, None)], report["turns"]
    assert "no ending within 3 s" in report["errors"][0]["message"]
    assert report["cleanup"]["verified"]


def test_no_cleanup_then_cleanup_by_prefix(confab, tmp_path):
    under = prefix()
    path = str(tmp_path / "report.json")
    done = integration(confab, "--users", "2", "--agents", "1", "--messages", "2", "--prefix", under,
                       "--report", path, "--no-cleanup", "--json", admin=False)
    report = read_report(done, path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == report  # --json prints the report itself
    # The run's users are <prefix>-u<n>: the command deletes those and no one whose name merely starts like the prefix.
    assert report["cleanup"]["performed"] is False and report["cleanup"]["command"] == f"confab cleanup --prefix {under}-u"
    assert report["success"] is True and f"remove them with: confab cleanup --prefix {under}-u" in done.stderr

    cleaned = confab_cli("cleanup", "--prefix", under, "--json", env={"CONFAB_URL": confab, "CONFAB_ADMIN_TOKEN": ADMIN_TOKEN})
    assert cleaned.returncode == 0, cleaned.stderr
    result = json.loads(cleaned.stdout)
    assert result["deleted"] == 2 and result["verified"] and sorted(result["usernames"]) == [f"{under}-u1", f"{under}-u2"]
    assert "2 session(s), 2 agent(s), 2 key(s)" in cleaned.stderr
    assert users_left(confab, under) == 0


def test_a_wrong_admin_token_fails_before_anything_is_made(confab, tmp_path):
    under = prefix()
    done = confab_cli("integration", "--users", "2", "--prefix", under, "--report", str(tmp_path),
                      env={"CONFAB_URL": confab, "CONFAB_ADMIN_TOKEN": "not-the-admin-token-" + "x" * 20})
    assert done.returncode == 3 and "admin token was refused" in done.stderr, done.stderr
    assert "users:" not in done.stderr and list(tmp_path.iterdir()) == []
    assert users_left(confab, under) == 0
    missing = confab_cli("integration", "--prefix", under, env={"CONFAB_URL": confab, "CONFAB_ADMIN_TOKEN": ""})
    assert missing.returncode == 2 and "--no-cleanup" in missing.stderr


def test_a_run_killed_half_way_is_cleaned_up_by_prefix(confab, tmp_path):
    under = prefix()
    topics = tmp_path / "topics.json"
    topics.write_text(json.dumps({"*": ["a long answer please [[tokens=400]]"]}))  # 400 pieces, 40 ms apart
    runner = subprocess.Popen([CLI_BINARY, "integration", "--users", "3", "--agents", "2", "--messages", "3",
                               "--prefix", under, "--topics", str(topics), "--report", str(tmp_path / "r.json")],
                              env=dict(os.environ, CONFAB_URL=confab, CONFAB_ADMIN_TOKEN=ADMIN_TOKEN),
                              stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 120
        seen = []
        while time.monotonic() < deadline:
            line = runner.stderr.readline()
            seen.append(line)
            if "over /chat/ws" in line or not line:
                break
        assert "over /chat/ws" in seen[-1], "".join(seen)
        time.sleep(1)  # the conversations are under way
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(10)
    assert not os.path.exists(tmp_path / "r.json")

    cleaned = confab_cli("cleanup", "--prefix", under, "--json", env={"CONFAB_URL": confab, "CONFAB_ADMIN_TOKEN": ADMIN_TOKEN})
    assert cleaned.returncode == 0, cleaned.stderr
    assert json.loads(cleaned.stdout)["deleted"] == 3
    assert users_left(confab, under) == 0


def test_stack_script_start_status_test_stop(tmp_path):
    env = dict(os.environ, STACK_DIR=str(tmp_path / "stack"))
    script = os.path.join(ROOT, "scripts", "stack.sh")

    def stack(*args, timeout=600):
        return subprocess.run(["bash", script, *args], env=env, capture_output=True, text=True, timeout=timeout)

    started = stack("start")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        status = stack("status")
        assert status.returncode == 0, status.stdout + status.stderr
        for name in ("redis", "model", "confab"):
            assert any(line.startswith(name) and "healthy" in line and "pid" in line for line in status.stdout.splitlines()), status.stdout
        stack_env = dict(line.split("=", 1) for line in (tmp_path / "stack" / "env").read_text().splitlines())
        token = stack_env["CONFAB_ADMIN_TOKEN"]
        assert len(token) >= 32 and token not in status.stdout + started.stdout + started.stderr
        assert oct((tmp_path / "stack" / "env").stat().st_mode & 0o777) == "0o600"
        pids = [int((tmp_path / "stack" / f"{name}.pid").read_text()) for name in ("redis", "model", "confab")]

        ran = stack("test", "--users", "2", "--agents", "1", "--messages", "2", "--report", str(tmp_path))
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "result: success, all 4 turns succeeded" in ran.stdout
        reports = list(tmp_path.glob("integration-report-*.json"))
        assert len(reports) == 1 and reports[0].with_suffix(".html").exists()
        assert json.loads(reports[0].read_text())["cleanup"]["verified"]
        assert requests.get(stack_env["CONFAB_URL"] + "/ready", timeout=10).status_code == 200
    finally:
        stopped = stack("stop")
    assert stopped.returncode == 0, stopped.stderr
    for pid in pids:
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()
    assert stack("status").returncode == 1
