"""The laptop compose file passes `podman-compose config` and names only real settings and commands."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import yaml

from argus.runtime.settings import Settings
from argus_commands.main import build_parser
from tests.ops_tools import HOW_TO_INSTALL, ROOT, tool

COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
KNOWN = {spec.metadata["env"] for spec in fields(Settings)}


def _resolved() -> dict[str, object]:
    """The file as the compose tool resolves it (anchors, merges, paths)."""
    compose = Path(sys.executable).parent / "podman-compose"  # a dev dependency; it needs podman itself
    assert compose.is_file(), f"podman-compose not installed; {HOW_TO_INSTALL}"
    tool("podman")
    result = subprocess.run(
        [str(compose), "-f", str(COMPOSE), "config"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(yaml.safe_load(result.stdout))


def test_compose_config_resolves_the_whole_stack() -> None:
    services = _resolved()["services"]
    assert isinstance(services, dict)
    assert {"kafka", "postgres", "keys", "migrate", "gateway", "processor", "witness", "s3"} <= set(services)
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft
    for name in ("gateway", "processor"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("migrate", "gateway", "processor"):
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/container/Dockerfile"
        assert set(service["environment"]) <= KNOWN, name
        assert callable(build_parser().parse_args(service["command"]).func)
    witness = services["witness"]
    assert build_parser().parse_args(witness["command"]).func.__module__ == "argus.tlog.witness"
    assert witness["depends_on"]["gateway"]["condition"] == "service_healthy"
    assert "moto_server" in " ".join(services["s3"]["command"])  # the S3 server deploy/local/s3.sh runs
    for service in services.values():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port  # published on loopback only
