"""Two witnesses and a log through the real pipeline (Kafka, processor, PostgreSQL, gateway):
a consistent history is cosigned by both; a fork and a database restored from an old backup
(rollback) are refused by both with the evidence on disk, and `argus verify --checkpoint`
requiring both cosignatures catches the rollback too (docs/witness.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from argus_commands.main import main as argus_main
from argus_spec.cosignature import WitnessSigner, WitnessVerifier, cosign, require_cosignatures
from argus_spec.note import Signer
from argus_spec.tlog import Checkpoint, open_checkpoint
from tests.integration.harness import LOG_KEY_FILE, LOG_VERIFIER_KEY, TOKEN, Stack, make_event, wait_for
from tests.integration.sink_kinds import S3_CREDENTIALS, make_locked_bucket, s3_client, s3_endpoint
from tests.integration.test_client_e2e import GatewayProcess
from tests.integration.test_transparency import tamper

TABLES = ("audit_records", "partition_commits", "merkle_tiles", "merkle_trees", "checkpoints")


class WitnessRunner:
    """One `argus witness` with its own key, state file, evidence and publish directories."""

    bucket: str = ""

    def __init__(self, name: str, tmp: Path, gateway: GatewayProcess, s3_url: str | None = None) -> None:
        self.s3_url = s3_url
        self.signer = WitnessSigner.generate(name)
        self.home = tmp / name
        self.home.mkdir()
        (self.home / "witness.key").write_text(self.signer.encode() + "\n")
        self.gateway = gateway

    @property
    def verifier(self) -> WitnessVerifier:
        return self.signer.verifier

    @property
    def evidence(self) -> Path:
        return self.home / "evidence"

    @property
    def published(self) -> Path:
        return self.home / "published"

    def run_once(self) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "argus_commands", "witness", "--once", "--url", self.gateway.url,
                   "--token", TOKEN, "--log-key", LOG_VERIFIER_KEY, "--key", str(self.home / "witness.key"),
                   "--state", str(self.home / "state.json"), "--evidence-dir", str(self.evidence),
                   "--publish-dir", str(self.published), "--topic", self.gateway.stack.topic]  # fmt: skip
        if self.s3_url:
            command += ["--publish-s3", self.s3_url]
        env = {**os.environ, **S3_CREDENTIALS}
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, env=env)

    def refusals(self) -> list[dict[str, Any]]:
        if not self.evidence.exists():
            return []
        return [json.loads((d / "summary.json").read_text()) | {"dir": d} for d in sorted(self.evidence.iterdir())]


def get_checkpoints(gateway: GatewayProcess, topic: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{gateway.url}/api/checkpoints?topic={topic}",
                                     headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


def run_verify(stack: Stack, anchors: Path, witnesses: list[WitnessRunner], capsys: pytest.CaptureFixture[str],
               required: int = 2) -> tuple[int, str]:  # fmt: skip
    capsys.readouterr()
    args = ["verify", "--database-url", stack.db_url, "--checkpoint", str(anchors), "--log-key", LOG_VERIFIER_KEY,
            "--witnesses", str(required)]  # fmt: skip
    for witness in witnesses:
        args += ["--witness-key", witness.verifier.encode()]
    code = argus_main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def store(stack: Stack, start: int, count: int) -> None:
    before = stack.stored_count()
    stack.produce_envelopes([make_event(f"svc-{i % 8:02d}", i) for i in range(start, start + count)])
    wait_for(lambda: stack.stored_count() == before + count, 120, lambda: f"stored\n{stack.logs()}")


def all_cosigned(gateway: GatewayProcess, stack: Stack, witnesses: list[WitnessRunner]) -> list[Checkpoint]:
    """Every partition's latest served checkpoint carries both witnesses' valid cosignatures."""
    served = get_checkpoints(gateway, stack.topic)["checkpoints"]
    assert len(served) == stack.partitions
    for item in served:
        require_cosignatures(item["note"], [w.verifier for w in witnesses], 2)
    return [open_checkpoint(item["note"], [Signer.parse(LOG_KEY_FILE.read_text()).verifier]) for item in served]


def test_two_witnesses_cosign_a_consistent_log_and_refuse_forks_and_rollbacks(
    stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    witnesses: list[WitnessRunner] = []
    gateway = GatewayProcess(stack)
    bucket = f"argus-{stack.name}-witness"
    make_locked_bucket(bucket)
    s3 = f"s3://{bucket}/anchors?endpoint={s3_endpoint()}&region=us-east-1&retention_days=1"
    witnesses = [
        WitnessRunner("witness-a.test", tmp_path, gateway, s3),
        WitnessRunner("witness-b.test", tmp_path, gateway),
    ]
    witnesses[0].bucket = bucket
    stack.extra_env["ARGUS_WITNESS_KEYS"] = " ".join(w.verifier.encode() for w in witnesses)
    stack.start_processor()
    gateway.start()
    try:
        _scenario(stack, gateway, witnesses, tmp_path, capsys)
    finally:
        gateway.stop()


def _scenario(stack: Stack, gateway: GatewayProcess, witnesses: list[WitnessRunner], tmp_path: Path,
              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    # 1. A consistent history, seen twice: both witnesses cosign; the second round needs consistency proofs.
    store(stack, 0, 80)
    for witness in witnesses:
        result = witness.run_once()
        assert result.returncode == 0, result.stderr
    first = all_cosigned(gateway, stack, witnesses)
    for table in TABLES:  # the backup an operator might later restore
        tamper(stack.db_url, f"CREATE TABLE bak_{table} AS SELECT * FROM {table}")
    store(stack, 1000, 80)
    wait_for(lambda: sum(c["treeSize"] for c in get_checkpoints(gateway, stack.topic)["checkpoints"]) == 160, 60,
             "checkpoints covering 160 records")  # fmt: skip
    for witness in witnesses:
        result = witness.run_once()
        assert result.returncode == 0, result.stderr
        assert witness.refusals() == []
    second = all_cosigned(gateway, stack, witnesses)
    assert sum(c.size for c in second) == 160 and all(
        b.size > a.size for a, b in zip(first, second, strict=True) if b.origin == a.origin and b.size != a.size
    )
    # Each cosigned checkpoint was also published as a file, which verifies on its own.
    for checkpoint in second:
        for witness in witnesses:
            files = list(witness.published.rglob(f"{checkpoint.size}.note"))
            notes = [f.read_text() for f in files if open_checkpoint(f.read_text(), [_log_verifier()]) == checkpoint]
            assert len(notes) == 1
            require_cosignatures(notes[0], [witness.verifier], 1)
    # Witness A also put each one to the Object Lock bucket, locked: an auditor reads them from there.
    objects = s3_client().list_objects_v2(Bucket=witnesses[0].bucket, Prefix="anchors/checkpoints/")["Contents"]
    in_bucket = {}
    for obj in objects:
        body = s3_client().get_object(Bucket=witnesses[0].bucket, Key=obj["Key"])
        assert body["ObjectLockMode"] == "COMPLIANCE"
        in_bucket[obj["Key"]] = body["Body"].read().decode()
    for checkpoint in second:
        [found] = [n for n in in_bucket.values() if open_checkpoint(n, [_log_verifier()]) == checkpoint]
        require_cosignatures(found, [witnesses[0].verifier], 1)
    anchors = tmp_path / "cosigned.json"
    anchors.write_text(json.dumps(get_checkpoints(gateway, stack.topic)))
    code, out = run_verify(stack, anchors, witnesses, capsys)
    assert code == 0, out
    # The same checkpoints without the witnesses' lines are not enough when two cosignatures are required.
    bare = tmp_path / "bare.txt"
    bare.write_text("".join(row.note for row in stack.query("SELECT note FROM checkpoints")))
    code, out = run_verify(stack, bare, witnesses, capsys)
    assert code == 2 and "0 trusted witness cosignature(s)" in out, out

    # 2. A fork: the operator signs another root at a size the witnesses already cosigned.
    victim = second[0]
    genuine = stack.query("SELECT tree_size, note FROM checkpoints WHERE kafka_partition = 0 "
                          "ORDER BY tree_size DESC LIMIT 1")[0]  # fmt: skip
    assert victim.origin.endswith("/0")
    log_signer = Signer.parse(LOG_KEY_FILE.read_text())
    forged = log_signer.sign(Checkpoint(victim.origin, genuine.tree_size, b"\x07" * 32).text())
    replace_checkpoint(stack, genuine.tree_size, forged)
    for witness in witnesses:
        result = witness.run_once()
        assert result.returncode == 3, result.stderr
        [refusal] = witness.refusals()
        assert refusal["kind"] == "fork" and refusal["origin"].endswith("/0")
        assert (refusal["dir"] / "offered.note").read_text() == forged  # served without stale cosignatures
        accepted = open_checkpoint((refusal["dir"] / "accepted.note").read_text(), [_log_verifier()])
        assert accepted.size == genuine.tree_size and accepted.root != b"\x07" * 32
    replace_checkpoint(stack, genuine.tree_size, genuine.note)
    # The log stores only cosignatures of configured witnesses on the exact stored checkpoint.
    a_signer = witnesses[0].signer
    assert post_cosignature(gateway, cosign(forged, a_signer)) == (409, "note")
    assert post_cosignature(gateway, cosign(genuine.note, WitnessSigner.generate("stranger"))) == (400, "note")
    larger = log_signer.sign(Checkpoint(victim.origin, genuine.tree_size + 1000, b"\x07" * 32).text())
    assert post_cosignature(gateway, cosign(larger, a_signer))[0] == 404
    assert post_cosignature(gateway, cosign(genuine.note, a_signer)) == (200, None)  # already stored

    # 3. The database restored from the old backup (a rollback): both witnesses refuse, verify fails.
    stack.stop_all()
    for table in (*TABLES, "checkpoint_cosignatures"):
        tamper(stack.db_url, f"DELETE FROM {table}")
    for table in TABLES:
        tamper(stack.db_url, f"INSERT INTO {table} SELECT * FROM bak_{table}")
    assert stack.stored_count() == 80
    for witness in witnesses:
        result = witness.run_once()
        assert result.returncode == 3, result.stderr
        rollbacks = [r for r in witness.refusals() if r["kind"] == "rollback"]
        assert len(rollbacks) == sum(1 for a, b in zip(first, second, strict=True) if b.size > a.size) > 0
        for refusal in rollbacks:
            assert (refusal["dir"] / "accepted.note").exists() and (refusal["dir"] / "offered.note").exists()
    code, out = run_verify(stack, anchors, witnesses, capsys)
    assert code == 1, out
    assert "truncated" in out


def post_cosignature(gateway: GatewayProcess, note: str) -> tuple[int, str | None]:
    """(status, the error's field) of POST /api/checkpoints/cosignatures."""
    request = urllib.request.Request(
        f"{gateway.url}/api/checkpoints/cosignatures", data=json.dumps({"note": note}).encode(), method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()).get("field")


def replace_checkpoint(stack: Stack, size: int, note: str) -> None:
    """Put another signed note in place of partition 0's checkpoint of `size` (an operator with the log key)."""
    root = open_checkpoint(note, [_log_verifier()]).root.hex()
    tamper(stack.db_url, "UPDATE checkpoints SET note = :n, root_hash = :r "
           "WHERE kafka_partition = 0 AND tree_size = :s", n=note, r=root, s=size)  # fmt: skip


def _log_verifier() -> Any:
    return Signer.parse(LOG_KEY_FILE.read_text()).verifier
