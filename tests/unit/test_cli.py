"""The `argus` command: every subcommand has --help, and a bad setting is one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SUBCOMMANDS = ["gateway", "processor", "db", "verify", "export", "run"]


def _argus(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "argus_commands", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_top_level_help_lists_every_subcommand() -> None:
    result = _argus("--help")
    assert result.returncode == 0
    for name in SUBCOMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_help(name: str) -> None:
    result = _argus(name, "--help")
    assert result.returncode == 0, result.stderr
    assert f"argus {name}" in result.stdout


def test_invalid_setting_stops_start_up_with_one_line() -> None:
    result = _argus("gateway", env={"ARGUS_PORT": "seventy"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["argus: invalid configuration: ARGUS_PORT: expected an integer, got 'seventy'"]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-15:59"])
def test_a_time_outside_years_1_to_9999_in_utc_is_a_usage_error_not_a_traceback(moment: str) -> None:
    result = _argus("export", "--database-url", "sqlite:///unused.db", "--from", moment)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--from" in result.stderr
