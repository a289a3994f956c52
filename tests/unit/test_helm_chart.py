"""The Helm chart, checked with the real `helm` (lint, template) and the Kubernetes schemas.

Rendered over the default values and deploy/helm/examples/*-values.yaml; Prometheus Operator
objects (no offline schema) are checked by what consumes them: promtool for the PrometheusRule.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from argus.audit.verify_log import load_verifiers
from argus.trust.key_registry import KeyRegistry
from argus.trust.receipt_keys import parse_verifier_keys
from argus_commands.main import build_parser
from tests.helm_chart import CHART, EXAMPLES, KUBE_VERSION, VALUE_SETS, containers, documents, helm, render
from tests.ops_tools import ROOT, tool

IDS = [v.name if v else "defaults" for v in VALUE_SETS]
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}
MIB = 1024 * 1024
#: values passed through to Kubernetes as they are: documented as one entry
OPAQUE = {"resources", "podSecurityContext", "securityContext", "affinity", "labels"}


def _by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def _named(docs: list[dict[str, Any]], kind: str, suffix: str) -> dict[str, Any]:
    [doc] = [doc for doc in _by_kind(docs, kind) if doc["metadata"]["name"].endswith(suffix)]
    return doc


def _mebibytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return float(number) * (1024 if unit == "Gi" else 1)


@pytest.mark.parametrize("values", VALUE_SETS, ids=IDS)
def test_helm_lint_passes(values: Path | None) -> None:
    args = ["lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION]
    result = helm(*args, *(["-f", str(values)] if values else []))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


@pytest.mark.parametrize("values", VALUE_SETS, ids=IDS)
def test_rendered_objects_match_the_kubernetes_schema(values: Path | None) -> None:
    docs = documents(values)
    checked = 0
    for doc in docs:
        if doc["kind"] in OPERATOR_KINDS:
            continue
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)  # raises on any schema error
        checked += 1
    kinds = {doc["kind"] for doc in docs}
    assert {"Deployment", "Service", "Job", "ConfigMap"} <= kinds
    assert checked >= 7


def test_a_broken_object_fails_the_schema_check() -> None:
    """The schema check is live: a misspelt field is refused."""
    deployment = _named(documents(), "Deployment", "-gateway")
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSION, strict=True)


def test_processor_replicas_beyond_the_partition_count_fail_the_template() -> None:
    result = render(None, "processor.replicas=13", "kafka.topicPartitions=12")
    assert result.returncode != 0
    assert "processor.replicas (13) exceeds kafka.topicPartitions (12)" in result.stderr
    equal = documents(None, "processor.replicas=12", "kafka.topicPartitions=12")
    assert _named(equal, "Deployment", "-processor")["spec"]["replicas"] == 12


def test_gateway_probes_and_autoscaler() -> None:
    docs = documents()
    [gateway] = containers(_named(docs, "Deployment", "-gateway"))
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/health"
    [hpa] = _by_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == _named(docs, "Deployment", "-gateway")["metadata"]["name"]
    assert "replicas" not in _named(docs, "Deployment", "-gateway")["spec"]  # the HPA owns it
    assert {pdb["metadata"]["name"].rsplit("-", 1)[1] for pdb in _by_kind(docs, "PodDisruptionBudget")} == {
        "gateway",
        "processor",
    }


def test_migrations_run_as_a_hook_after_their_settings_exist() -> None:
    docs = documents(EXAMPLES[-1])
    [job] = _by_kind(docs, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    job_weight = int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    for doc in _by_kind(docs, "ConfigMap") + _by_kind(docs, "Secret") + _by_kind(docs, "ServiceAccount"):
        annotations = doc["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade", doc["metadata"]["name"]
        assert int(annotations["helm.sh/hook-weight"]) < job_weight


def test_resource_requests_cover_the_measured_rss() -> None:
    """docs/benchmarks.md's measured peak RSS is below each default memory request."""
    bench = (ROOT / "docs" / "benchmarks.md").read_text()
    found = re.search(r"peak RSS gateway (\d+) MB, processor (\d+) MB", bench)
    assert found, "docs/benchmarks.md no longer states the peak RSS"
    measured = {"gateway": int(found[1]), "processor": int(found[2])}
    docs = documents()
    for component, megabytes in measured.items():
        [container] = containers(_named(docs, "Deployment", f"-{component}"))
        request = _mebibytes(container["resources"]["requests"]["memory"]) * MIB
        limit = _mebibytes(container["resources"]["limits"]["memory"]) * MIB
        assert megabytes * 1_000_000 < request < limit, component


def test_existing_secret_replaces_the_chart_secret() -> None:
    docs = documents(EXAMPLES[0])
    assert EXAMPLES[0].name == "production-values.yaml"
    assert not _by_kind(docs, "Secret")
    for name in ("-gateway", "-processor"):
        [container] = containers(_named(docs, "Deployment", name))
        assert {"secretRef": {"name": "argus-credentials"}} in container["envFrom"]


def test_inline_trusted_keys_load_as_argus_would(tmp_path: Path) -> None:
    docs = documents(EXAMPLES[1])
    assert EXAMPLES[1].name == "small-values.yaml"
    keys = _named(docs, "Secret", "-keys")["stringData"]["keys.yaml"]
    (tmp_path / "keys.yaml").write_text(keys)
    assert KeyRegistry.load(tmp_path / "keys.yaml").key_ids == ["billing-2026"]
    assert _by_kind(docs, "ConfigMap")[0]["data"]["ARGUS_KEYS_CONFIG"] == "/etc/argus/keys/keys.yaml"


def test_prometheus_rule_ships_the_checked_rules_file(tmp_path: Path) -> None:
    docs = documents(EXAMPLES[0])
    [rule] = _by_kind(docs, "PrometheusRule")
    shipped = yaml.safe_load((ROOT / "deploy" / "prometheus" / "argus-rules.yml").read_text())
    assert rule["spec"]["groups"] == shipped["groups"]
    (tmp_path / "rendered-rules.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    check = subprocess.run(
        [tool("promtool"), "check", "rules", str(tmp_path / "rendered-rules.yml")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    monitors = _by_kind(docs, "ServiceMonitor")
    jobs = {m["spec"]["endpoints"][0]["relabelings"][0]["replacement"] for m in monitors}
    assert jobs == {"argus-gateway", "argus-processor"}  # the job names the rules select on


def _leaf_paths(values: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in OPAQUE:
            paths += _leaf_paths(value, f"{path}.")
        else:
            paths.append(path)
    return paths


def test_chart_readme_documents_every_value() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    readme = (CHART / "README.md").read_text()
    missing = [path for path in _leaf_paths(values) if f"`{path}`" not in readme]
    assert not missing, f"values not documented in deploy/helm/argus/README.md: {missing}"


def test_optional_witness_runs_the_real_witness_command() -> None:
    assert not [d for d in documents(None) if d["metadata"]["name"].endswith("-witness")]  # off by default
    docs = documents(EXAMPLES[0])
    deployment = _named(docs, "Deployment", "-witness")
    [container] = containers(deployment)
    args = build_parser().parse_args(container["args"])
    assert args.func.__module__ == "argus.tlog.witness" and args.url == "http://argus-gateway:80"
    assert load_verifiers(args.log_key)  # the example's log key is a real verifier key
    claim = _named(docs, "PersistentVolumeClaim", "-witness")["metadata"]["name"]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": "state", "persistentVolumeClaim": {"claimName": claim}} in volumes
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


def test_each_signing_key_is_mounted_only_where_it_signs() -> None:
    """The gateways hold the receipt key, the processors the log key; neither holds the other's."""
    docs = documents(EXAMPLES[0])
    [gateway] = containers(_named(docs, "Deployment", "-gateway"))
    [processor] = containers(_named(docs, "Deployment", "-processor"))
    for deployment, key in (("-gateway", "receipt.key"), ("-processor", "log.key")):
        volumes = _named(docs, "Deployment", deployment)["spec"]["template"]["spec"]["volumes"]
        [signing] = [v for v in volumes if v["name"] == "signing-key"]
        assert signing["secret"]["items"] == [{"key": key, "path": key}]
    assert _env(gateway)["ARGUS_RECEIPT_KEY"] == "/etc/argus/signing/receipt.key"
    assert "ARGUS_LOG_KEY" not in _env(gateway)
    assert _env(processor)["ARGUS_LOG_KEY"] == "/etc/argus/signing/log.key"
    assert parse_verifier_keys(_env(processor)["ARGUS_RECEIPT_VERIFIER_KEYS"], "chart")  # a real verifier key
    assert "ARGUS_RECEIPT_KEY" not in _env(processor)


def test_signing_keys_without_the_receipt_verifier_key_fail_the_template() -> None:
    result = render(None, "signingKeys.existingSecret=argus-signing-keys")
    assert result.returncode != 0 and "receiptVerifierKeys" in result.stderr
