"""Fixtures that start real processes: redis-server, the test upstream, Confab, the local model.

Every process gets a free port and is stopped when its test ends. A missing program is a
failure that says what to install, never a skip.
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
import warnings

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, ".build", "debug")
# The client subcommands live in `confab`; CONFAB_CLI_BINARY runs another build of them.
CLI_BINARY = os.environ.get("CONFAB_CLI_BINARY") or os.path.join(BUILD, "confab")


def confab_cli(*args, env=None, input=None, timeout=60):
    """Runs `confab <args>` (the client subcommands) with `env` added to this environment."""
    return subprocess.run([CLI_BINARY, *args], env=dict(os.environ, **(env or {})), input=input,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session", autouse=True)
def cleanup_before_test(request):
    """With CONFAB_CLEANUP_BEFORE_TEST=true, runs `confab cleanup` once before the tests: every
    session of CONFAB_API_KEY's user at CONFAB_URL, or, with CONFAB_CLEANUP_PREFIX and
    CONFAB_ADMIN_TOKEN, every user whose name starts with the prefix. A failed clean-up is a
    warning, never a failed or blocked test: the tests then run on whatever is there."""
    if os.environ.get("CONFAB_CLEANUP_BEFORE_TEST", "").lower() != "true":
        return
    prefix = os.environ.get("CONFAB_CLEANUP_PREFIX")
    args = ["cleanup", "--prefix", prefix] if prefix else ["cleanup"]
    lines = [f"CONFAB_CLEANUP_BEFORE_TEST: confab {' '.join(args)}"]
    try:
        done = confab_cli(*args, timeout=120)
        lines += [f"  {line}" for line in done.stderr.splitlines()]
        failure = None if done.returncode == 0 else f"exit status {done.returncode}"
    except (OSError, subprocess.SubprocessError) as error:
        failure = str(error)
    if failure:
        message = f"confab cleanup failed ({failure}); the tests run anyway"
        lines.append(f"WARNING: {message}")
        warnings.warn(message)
    # Shown as it happens, not only for failed tests: the fixture runs while output is captured.
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if terminal and capture:
        with capture.global_and_fixture_disabled():
            terminal.write_line("")
            for line in lines:
                terminal.write_line(line)


def free_port():
    """A free port below Linux's ephemeral range, so outgoing connections cannot take it."""
    import random
    for _ in range(200):
        port = random.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


def require(path, hint):
    if not (shutil.which(path) or os.path.exists(path)):
        pytest.fail(f"{path} is missing: {hint}")
    return shutil.which(path) or path


class Proc:
    def __init__(self, name, args, env=None):
        self.log = tempfile.NamedTemporaryFile(prefix=f"{name}-", suffix=".log", delete=False)
        self.name = name
        self.popen = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def wait_http(self, url, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.popen.poll() is not None:
                break
            try:
                if requests.get(url, timeout=1).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        pytest.fail(f"{self.name} did not start; log:\n" + open(self.log.name).read()[-3000:])

    def stop(self):
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@pytest.fixture
def redis_url():
    binary = require("redis-server", "apt-get install -y redis-server (scripts/setup.sh does)")
    port = free_port()
    data = tempfile.mkdtemp(prefix="confab-redis-")
    proc = Proc("redis", [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", data])
    deadline = time.time() + 10
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}"
    proc.stop()
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def test_upstream():
    binary = require(os.path.join(BUILD, "confab-test-upstream"), "run `swift build` first (scripts/test.sh does)")
    port = free_port()
    proc = Proc("upstream", [binary, "--port", str(port), "--first-token-delay-ms", "50", "--token-delay-ms", "40"])
    proc.wait_http(f"http://127.0.0.1:{port}/stats")
    yield f"http://127.0.0.1:{port}"
    proc.stop()


@pytest.fixture
def local_model():
    python = os.path.join(ROOT, ".venv", "bin", "python")
    require(python, "run scripts/setup.sh to create .venv with the local model")
    port = free_port()
    proc = Proc("model", [python, os.path.join(ROOT, "scripts", "local_model.py"), "--port", str(port), "--threads", "1"])
    proc.wait_http(f"http://127.0.0.1:{port}/health", timeout=60)
    yield f"http://127.0.0.1:{port}/v1"
    proc.stop()


class BaseURL(str):
    """Confab's base URL, carrying the process id (for /proc figures)."""

    def __new__(cls, url, pid):
        value = super().__new__(cls, url)
        value.pid = pid
        return value


@pytest.fixture
def start_confab():
    """Starts Confab against a given Redis and model; returns its base URL."""
    binary = require(os.path.join(BUILD, "confab"), "run `swift build` first (scripts/test.sh does)")
    started = []

    def start(redis_url, base_url, **settings):
        port = free_port()
        env = dict(os.environ, CONFAB_PORT=str(port), REDIS_URL=redis_url, OPENAI_BASE_URL=base_url,
                   CONFAB_STATIC_DIR=os.path.join(ROOT, "static"), CONFAB_LOG_LEVEL="warning")
        env.update({k: str(v) for k, v in settings.items()})
        proc = Proc("confab", [binary, "serve", "--env-file", "/nonexistent"], env=env)
        started.append(proc)
        proc.wait_http(f"http://127.0.0.1:{port}/health")
        return BaseURL(f"http://127.0.0.1:{port}", proc.popen.pid)

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def user_id():
    return "t-" + uuid.uuid4().hex[:10]


def redis_cli(url, *args):
    """Runs one redis-cli command against `url`; returns its output lines."""
    binary = require("redis-cli", "apt-get install -y redis-tools (scripts/setup.sh does)")
    out = subprocess.run([binary, "-u", url, *args], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line]
