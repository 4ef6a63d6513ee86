"""Start-up refuses settings it cannot use, naming them."""
import os
import subprocess

import pytest

from conftest import BUILD, require


@pytest.mark.parametrize("name,value", [
    ("CONFAB_HISTORY_CAP", "0"), ("CONFAB_HISTORY_WINDOW", "0"), ("CONFAB_HISTORY_TTL_SECONDS", "soon"),
    ("REDIS_URL", "localhost:6379"), ("CONFAB_PORT", "70000"),
])
def test_bad_setting_stops_startup_naming_it(name, value):
    binary = require(os.path.join(BUILD, "confab"), "run `swift build` first (scripts/test.sh does)")
    result = subprocess.run([binary, "serve", "--env-file", "/nonexistent"], env=dict(os.environ, **{name: value}),
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert name in result.stderr and value in result.stderr, result.stderr


def test_dotenv_file_is_read(tmp_path):
    binary = require(os.path.join(BUILD, "confab"), "run `swift build` first (scripts/test.sh does)")
    env_file = tmp_path / ".env"
    env_file.write_text("CONFAB_HISTORY_WINDOW=0\n")
    result = subprocess.run([binary, "serve", "--env-file", str(env_file)], capture_output=True, text=True, timeout=30,
                            env={k: v for k, v in os.environ.items() if not k.startswith("CONFAB_")})
    assert result.returncode != 0 and "CONFAB_HISTORY_WINDOW" in result.stderr
