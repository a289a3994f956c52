"""A real Prometheus scrapes a running gateway and processor, evaluates the shipped rules, and fires an alert.

The same scrape also proves the rules and the Grafana dashboard name only metrics the services export.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

from bench import free_port
from tests.integration.harness import TOKEN, Stack, make_event, wait_for
from tests.integration.prometheus_server import RULES, Prometheus, running_prometheus
from tests.ops_tools import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "argus-dashboard.json"
#: metric names in PromQL: exported names (argus_*, process_*) and recorded ones (argus:*)
EXPORTED = re.compile(r"\b((?:argus|process)_[a-z_]+)")
RECORDED = re.compile(r"\b(argus:[a-z0-9_:]+)")
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), response.read().decode()
    except OSError:
        return 0, ""


def _post_events(url: str, events: list[dict[str, object]]) -> int:
    request = urllib.request.Request(
        f"{url}/api/audit-logs/bulk",
        data=json.dumps(events).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def _exported_names(metrics_text: str) -> set[str]:
    """Every metric family a /metrics page declares (labelled families appear before first use too)."""
    return {line.split()[2] for line in metrics_text.splitlines() if line.startswith("# TYPE ")}


def _base(name: str) -> str:
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def _dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def _values(prometheus: Prometheus, expr: str) -> list[float]:
    return [float(result["value"][1]) for result in prometheus.query(expr)]


def _alert_firing(prometheus: Prometheus, name: str) -> bool:
    return any(a["labels"]["alertname"] == name and a["state"] == "firing" for a in prometheus.api("alerts")["alerts"])


def test_prometheus_scrapes_argus_and_the_rules_fire(stack: Stack, tmp_path: Path) -> None:
    gateway_port, metrics_port = free_port(), free_port()
    stack.extra_env["ARGUS_PROCESSOR_METRICS_PORT"] = str(metrics_port)
    stack.start_processor()
    with open(tmp_path / "gateway.log", "wb") as log:
        stack.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "argus_commands", "gateway", "--port", str(gateway_port)],
                env=stack.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    gateway = f"http://127.0.0.1:{gateway_port}"
    processor_metrics = f"http://127.0.0.1:{metrics_port}/metrics"
    wait_for(lambda: _get(f"{gateway}/ready")[0] == 200, 60, lambda: f"gateway ready\n{stack.logs()}")
    wait_for(lambda: _get(processor_metrics)[0] == 200, 60, lambda: f"processor metrics\n{stack.logs()}")

    targets = {"argus-gateway": f"127.0.0.1:{gateway_port}", "argus-processor": f"127.0.0.1:{metrics_port}"}
    with running_prometheus(tmp_path, targets) as prometheus:
        wait_for(prometheus.ready, 60, lambda: f"prometheus ready\n{prometheus.log.read_text()}")
        wait_for(
            lambda: {r["metric"]["job"] for r in prometheus.query("up == 1")} == set(targets),
            60,
            lambda: f"both targets up: {prometheus.api('targets')}",
        )

        events = [make_event(f"svc-{i % 3}", i) for i in range(30)]
        assert _post_events(gateway, events) == 201
        stack.produce_raw(b"{not json", b"bad-key")  # a dead letter
        wait_for(lambda: stack.stored_count() == len(events), 90, lambda: f"events stored\n{stack.logs()}")

        # Recording rules evaluate over the scraped series.
        for recorded in ("argus:records_stored:rate5m", "argus:events_ingested:rate5m"):
            wait_for(lambda r=recorded: any(v > 0 for v in _values(prometheus, r)), 60, f"{recorded} > 0")
        wait_for(
            lambda: (
                len(_values(prometheus, "argus_consumer_lag_messages")) == stack.partitions
                and _values(prometheus, "argus:consumer_lag_messages:sum") == [0.0]
            ),
            60,
            lambda: f"lag of every partition, summing to 0: {prometheus.query('argus_consumer_lag_messages')}",
        )
        # The dead letter fires its alert (no `for:` on that rule).
        wait_for(lambda: _alert_firing(prometheus, "ArgusDeadLetters"), 60, lambda: str(prometheus.api("alerts")))
        firing = [a for a in prometheus.api("alerts")["alerts"] if a["labels"]["alertname"] == "ArgusDeadLetters"]
        assert firing[0]["labels"]["severity"] == "warning"
        # Every rule ran without an evaluation error.
        groups = prometheus.api("rules")["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        shipped = [line for line in RULES.read_text().splitlines() if re.match(r"\s+- (record|alert):", line)]
        assert len(rules) == len(shipped)
        assert all(rule["health"] == "ok" for rule in rules), [r for r in rules if r["health"] != "ok"]

    # The rules and the dashboard name only metrics that a real /metrics page declares.
    exported = _exported_names(_get(f"{gateway}/metrics")[1]) | _exported_names(_get(processor_metrics)[1])
    recorded = set(RECORDED.findall(RULES.read_text()))
    for source, text in (("rules", RULES.read_text()), ("dashboard", "\n".join(_dashboard_exprs()))):
        named = {_base(name) for name in EXPORTED.findall(text)}
        assert named, f"no metric names found in the {source}"
        assert named <= exported, f"{source} name metrics no service exports: {sorted(named - exported)}"
        assert set(RECORDED.findall(text)) <= recorded, f"{source} use unknown recording rules"
