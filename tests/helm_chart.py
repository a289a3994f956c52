"""Render the Helm chart with the real `helm` (deploy/local/ops-tools.sh builds it) for the deployment tests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.ops_tools import ROOT, tool

CHART = ROOT / "deploy" / "helm" / "argus"
EXAMPLES = sorted((ROOT / "deploy" / "helm" / "examples").glob("*-values.yaml"))
#: the default values plus each example values file
VALUE_SETS: list[Path | None] = [None, *EXAMPLES]
KUBE_VERSION = "1.30.0"  # helm built by `go install` defaults to v1.20, below the chart's kubeVersion


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("helm"), *args], capture_output=True, text=True, timeout=120)


def render(values: Path | None = None, *sets: str) -> subprocess.CompletedProcess[str]:
    args = ["template", "argus", str(CHART), "--kube-version", KUBE_VERSION]
    if values is not None:
        args += ["-f", str(values)]
    for item in sets:
        args += ["--set", item]
    return helm(*args)


def documents(values: Path | None = None, *sets: str) -> list[dict[str, Any]]:
    result = render(values, *sets)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    pod = doc.get("spec", {}).get("template", {}).get("spec", {})
    return list(pod.get("containers", []))
