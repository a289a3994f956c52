"""The shipped Prometheus rules are valid and behave as their unit tests say, checked by promtool itself."""

from __future__ import annotations

import subprocess

from tests.ops_tools import ROOT, tool

RULES_DIR = ROOT / "deploy" / "prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("promtool"), *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=120)


def test_rules_pass_promtool_check() -> None:
    result = _promtool("check", "rules", "argus-rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rules_pass_their_promtool_unit_tests() -> None:
    result = _promtool("test", "rules", "tests/argus-rules.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test() -> None:
    import yaml

    rules = yaml.safe_load((RULES_DIR / "argus-rules.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    tests = yaml.safe_load((RULES_DIR / "tests" / "argus-rules.test.yml").read_text())
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts, "no alerts found"
    assert alerts <= fired, f"alerts never shown firing by a unit test: {sorted(alerts - fired)}"
