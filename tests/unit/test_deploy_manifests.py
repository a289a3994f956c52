"""The deployment files can't drift from the code: every setting they name exists, every command is real.

The Kubernetes objects are the Helm chart rendered by the real `helm` over each values set.
"""

from __future__ import annotations

import re
from dataclasses import fields

import pytest

from argus.runtime.settings import Settings
from argus_commands.main import build_parser
from tests.helm_chart import VALUE_SETS, containers, documents
from tests.ops_tools import ROOT

DEPLOY = ROOT / "deploy"
# The witness is a client of the log, not a server: like `argus verify` it reads its token from ARGUS_TOKEN.
CLIENT_SETTINGS = {"ARGUS_TOKEN"}
KNOWN = {spec.metadata["env"] for spec in fields(Settings)} | CLIENT_SETTINGS


@pytest.mark.parametrize("values", VALUE_SETS, ids=lambda v: v.name if v else "defaults")
def test_every_setting_in_the_chart_exists(values: object) -> None:
    names: set[str] = set()
    for doc in documents(values):  # type: ignore[arg-type]
        if doc["kind"] == "ConfigMap":
            names |= set(doc["data"])
        if doc["kind"] == "Secret":
            names |= {key for key in doc.get("stringData") or {} if key.isupper()}
        for container in containers(doc):
            names |= {item["name"] for item in container.get("env", [])}
    assert names, "no settings found"
    assert names <= KNOWN, f"unknown settings: {sorted(names - KNOWN)}"


def test_every_setting_in_the_dockerfile_exists() -> None:
    names = set(re.findall(r"\b((?:ARGUS|AUDIT|REQUIRE)_[A-Z_]+)=", (DEPLOY / "container" / "Dockerfile").read_text()))
    assert names, "no settings found"
    assert names <= KNOWN, f"unknown settings: {sorted(names - KNOWN)}"


@pytest.mark.parametrize("values", VALUE_SETS, ids=lambda v: v.name if v else "defaults")
def test_every_container_command_is_an_argus_subcommand(values: object) -> None:
    parser = build_parser()
    commands = []
    for doc in documents(values):  # type: ignore[arg-type]
        for container in containers(doc):
            args = parser.parse_args(list(container["args"]))
            assert callable(args.func)
            commands.append(container["args"][0])
    witness = ["witness"] if values and "witness:\n  enabled: true" in values.read_text() else []  # type: ignore[attr-defined]
    assert sorted(commands) == ["db", "gateway", "processor", *witness]
