"""The benchmark still runs: `python -m bench.run_all --quick` on a few thousand events.

Why no timing assertions: CI machines are shared and their speed varies; a bench that fails on a
slow day teaches nothing. What must hold is that every phase completes (each accepted event is
committed) and the JSON document has every key docs/benchmarks.md describes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import bench_transparency, run_all
from bench.e2e import DRAIN_KEYS, MEMORY_KEYS, PHASE_KEYS, RESULT_KEYS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)  # the whole quick plan, transparency phase included, on a busy 2-core machine
def test_quick_bench_completes_with_every_key(kafka_bootstrap: str, database_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARGUS_")}
    command = [sys.executable, "-m", "bench.run_all", "--quick", "--scale", "0.3"]
    command += ["--kafka", kafka_bootstrap, "--database-url", database_url]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=540, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-4000:]
    doc = json.loads(done.stdout)

    assert set(run_all.DOC_KEYS) <= doc.keys() and doc["mode"] == "quick"
    assert {"copy", "kafka"} <= doc["baselines"].keys()
    assert doc["baselines"]["copy"]["rows_per_s"] > 0 and doc["baselines"]["kafka"]["produce_consume_msgs_per_s"] > 0
    assert set(RESULT_KEYS) <= doc["e2e"].keys()
    phases = {"rate_1k", "rate_5k", "saturation", "saturation_mix", "saturation_flat", "rate_5k_2p", "saturation_2p"}
    assert set(doc["e2e"]["phases"]) == phases
    assert doc["e2e"]["preload"]["rows"] > 0 and doc["e2e"]["preload"]["slab_rows_per_s"]
    for name, phase in doc["e2e"]["phases"].items():
        assert set(PHASE_KEYS) <= phase.keys(), name
        assert phase["complete"] and phase["committed"] == phase["events_accepted"] > 0, (name, phase)
    drain = doc["e2e"]["drain"]
    assert set(DRAIN_KEYS) <= drain.keys() and drain["complete"]
    memory = doc["e2e"]["memory"]
    assert set(MEMORY_KEYS) <= memory.keys() and memory["complete"]
    assert set(doc["e2e"]["peak_rss_mb"]) == {"gateway", "processor", "processor2"}
    assert set(run_all.GOAL_KEYS) == doc["goals"].keys()
    assert all({"target", "measured", "met", "by"} <= goal.keys() for goal in doc["goals"].values())
    assert {"committed_vs_raw_copy", "committed_vs_raw_kafka"} <= doc["ratios"].keys()
    log = doc["transparency"]
    assert set(bench_transparency.RESULT_KEYS) <= log.keys()
    assert all(run["complete"] for run in log["runs"]) and {run["log"] for run in log["runs"]} == {"on", "off"}
    assert log["proofs"]["inclusion_proofs"] > 0 and log["proofs"]["inclusion_verify_per_s"] > 0
