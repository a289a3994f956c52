"""The deployment files can't drift from the code: every setting they name exists, every command is real."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import yaml

from argus.cli import build_parser
from argus.config import Settings

DEPLOY = Path(__file__).resolve().parent.parent.parent / "deploy"
KNOWN = {spec.metadata["env"] for spec in fields(Settings)}


def _documents() -> list[dict[str, object]]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / "kubernetes" / "argus.yaml").read_text()) if doc]


def _containers(doc: dict[str, object]) -> list[dict[str, object]]:
    spec = doc.get("spec", {})
    template = spec.get("template", {}) if isinstance(spec, dict) else {}
    pod = template.get("spec", {}) if isinstance(template, dict) else {}
    return list(pod.get("containers", [])) if isinstance(pod, dict) else []


def test_every_setting_in_the_manifests_exists() -> None:
    names: set[str] = set()
    for doc in _documents():
        if doc["kind"] == "ConfigMap":
            names |= set(doc["data"])  # type: ignore[arg-type]
        for container in _containers(doc):
            names |= {item["name"] for item in container.get("env", [])}  # type: ignore[union-attr, index]
    dockerfile = (DEPLOY / "container" / "Dockerfile").read_text()
    names |= set(re.findall(r"\b((?:ARGUS|AUDIT|REQUIRE)_[A-Z_]+)=", dockerfile))
    assert names, "no settings found"
    assert names <= KNOWN, f"unknown settings: {sorted(names - KNOWN)}"


def test_every_container_command_is_an_argus_subcommand() -> None:
    parser = build_parser()
    for doc in _documents():
        for container in _containers(doc):
            args = parser.parse_args(list(container["args"]))  # type: ignore[call-overload]
            assert callable(args.func)
