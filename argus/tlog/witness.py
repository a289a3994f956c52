"""`argus witness`: follow a log's checkpoints, refuse rollbacks and forks, cosign the rest.

A witness runs apart from the log (own host, own key, own state file, no database access). For
every partition it keeps the last checkpoint it accepted. A newer checkpoint is accepted only
with a consistency proof from that one (fetched from the log, checked here with
argus_spec.proofs); a smaller tree (rollback), another root at the same size (fork) or a
proof that fails is refused: an ERROR log line, `argus_witness_inconsistencies_total`, and the
evidence (both notes and the proof or the log's answer) written to --evidence-dir. Accepted
checkpoints are cosigned (C2SP tlog-cosignature), submitted to the log's
POST /api/checkpoints/cosignatures and, with --publish-dir, written one file per checkpoint.
docs/witness.md explains the trust model.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge, start_http_server

from argus.audit.verify_log import load_verifiers
from argus.trust.log_key import write_signer_key
from argus_client.log_client import LogClient
from argus_spec.cosignature import WitnessSigner, cosign, split_note
from argus_spec.merkle import ProofError
from argus_spec.note import NoteError, Verifier
from argus_spec.proofs import verify_consistency_answer
from argus_spec.tlog import Checkpoint, open_checkpoint, parse_origin

log = logging.getLogger("argus.tlog.witness")

INCONSISTENCIES = Counter(
    "argus_witness_inconsistencies_total", "Checkpoints refused as a rollback, fork or unproven", ["origin", "kind"]
)
COSIGNED = Counter("argus_witness_cosigned_total", "Checkpoints this witness checked and cosigned", ["origin"])
ACCEPTED_SIZE = Gauge("argus_witness_accepted_tree_size", "Tree size of the last accepted checkpoint", ["origin"])


@dataclass(frozen=True)
class Refusal:
    """Why a checkpoint was refused; `proof` is the log's answer (or error) when one was asked."""

    origin: str
    kind: str  # rollback | fork | inconsistent | bad-signature
    reason: str
    accepted: str | None
    offered: str
    proof: Any = None


@dataclass
class WitnessState:
    """The last accepted (cosigned) note per origin, kept in a JSON file written atomically."""

    path: Path
    notes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> WitnessState:
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(path, dict(data.get("accepted", {})))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"version": 1, "accepted": self.notes}, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)


class Witness:
    """Checks and cosigns one log's checkpoints; all I/O with the log goes through `client`."""

    def __init__(
        self,
        client: LogClient,
        log_keys: list[Verifier],
        signer: WitnessSigner,
        state: WitnessState,
        evidence_dir: Path,
        publish_dir: Path | None = None,
        submit: bool = True,
        publish_s3: Callable[[Checkpoint, str], str] | None = None,
    ) -> None:
        self.client, self.log_keys, self.signer, self.state = client, log_keys, signer, state
        self.evidence_dir, self.publish_dir, self.submit = evidence_dir, publish_dir, submit
        self.publish_s3 = publish_s3

    def run_once(self, topic: str | None = None) -> list[Refusal]:
        """Check the log's latest checkpoint of every partition; returns what was refused."""
        refusals = []
        for item in self.client.checkpoints(topic=topic)["checkpoints"]:
            refusal = self.observe(item["note"])
            if refusal is not None:
                self._alert(refusal)
                refusals.append(refusal)
        return refusals

    def observe(self, note: str) -> Refusal | None:
        """Accept and cosign `note` if it extends what this witness saw; else the Refusal."""
        try:
            offered = open_checkpoint(note, self.log_keys)
            _, topic, partition = parse_origin(offered.origin)
        except NoteError as exc:
            return Refusal("?", "bad-signature", str(exc), None, note)
        accepted_note = self.state.notes.get(offered.origin)
        if accepted_note is not None:
            accepted = open_checkpoint(accepted_note, self.log_keys)
            refusal = self._check(accepted, accepted_note, offered, note, topic, partition)
            if refusal is not None:
                return refusal
            if offered.size == accepted.size and self.signer.name in _signers(note):
                return None  # seen, cosigned and served with our cosignature
        self._accept(offered, note)
        return None

    def _check(
        self, accepted: Checkpoint, accepted_note: str, offered: Checkpoint, note: str, topic: str, partition: int
    ) -> Refusal | None:
        origin = offered.origin
        if offered.size < accepted.size:
            return Refusal(origin, "rollback", f"tree size {offered.size} < accepted {accepted.size}",
                           accepted_note, note)  # fmt: skip
        if offered.size == accepted.size:
            if offered.root != accepted.root:
                return Refusal(origin, "fork", f"two roots at size {offered.size}", accepted_note, note)
            return None
        try:
            answer = self.client.consistency_proof(partition, accepted.size, offered.size, topic=topic)
        except urllib.error.HTTPError as exc:
            if exc.code >= 500:
                raise
            body = exc.read().decode("utf-8", "replace")
            return Refusal(origin, "inconsistent", f"the log cannot prove consistency from size {accepted.size}: "
                           f"HTTP {exc.code}", accepted_note, note, {"httpStatus": exc.code, "body": body})  # fmt: skip
        try:
            newer = verify_consistency_answer(answer, self.log_keys, trusted=accepted)
            if newer != offered:
                raise ProofError("the proof ends at another checkpoint than the one offered")
        except (ProofError, NoteError, KeyError) as exc:
            return Refusal(origin, "inconsistent", f"consistency {accepted.size} -> {offered.size}: {exc}",
                           accepted_note, note, answer)  # fmt: skip
        return None

    def _accept(self, checkpoint: Checkpoint, note: str) -> None:
        cosigned = cosign(note, self.signer)
        if self.submit:
            self._submit(cosigned)
        if self.publish_dir is not None:
            publish(self.publish_dir, checkpoint, cosigned)
        if self.publish_s3 is not None:
            self.publish_s3(checkpoint, cosigned)
        self.state.notes[checkpoint.origin] = cosigned  # last: a failed publish is retried next poll
        self.state.save()
        COSIGNED.labels(checkpoint.origin).inc()
        ACCEPTED_SIZE.labels(checkpoint.origin).set(checkpoint.size)
        log.info("cosigned %s at size %d", checkpoint.origin, checkpoint.size)

    def _submit(self, cosigned: str) -> None:
        self.client.post("/api/checkpoints/cosignatures", {"note": cosigned})

    def _alert(self, refusal: Refusal) -> None:
        where = keep_evidence(self.evidence_dir, refusal)
        INCONSISTENCIES.labels(refusal.origin, refusal.kind).inc()
        log.error("REFUSED %s checkpoint of %s: %s (evidence in %s)",
                  refusal.kind, refusal.origin, refusal.reason, where)  # fmt: skip


def _signers(note: str) -> set[str]:
    return {line[2:].rpartition(" ")[0] for line in split_note(note)[1]}


def _safe(origin: str) -> str:
    return urllib.parse.quote(origin, safe="")


def keep_evidence(directory: Path, refusal: Refusal) -> Path:
    """Write both notes, the proof (or the log's answer) and a summary to a new directory."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    where = directory / f"{stamp}-{_safe(refusal.origin)}-{refusal.kind}"
    where.mkdir(parents=True, exist_ok=False)
    if refusal.accepted is not None:
        (where / "accepted.note").write_text(refusal.accepted, encoding="utf-8")
    (where / "offered.note").write_text(refusal.offered, encoding="utf-8")
    if refusal.proof is not None:
        (where / "proof.json").write_text(json.dumps(refusal.proof, indent=2), encoding="utf-8")
    summary = {"origin": refusal.origin, "kind": refusal.kind, "reason": refusal.reason, "at": stamp}
    (where / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return where


def publish(directory: Path, checkpoint: Checkpoint, cosigned: str) -> Path:
    """One file per cosigned checkpoint: <dir>/<origin, %-quoted>/<tree size>.note (never rewritten)."""
    folder = directory / _safe(checkpoint.origin)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{checkpoint.size}.note"
    tmp = folder / f".{checkpoint.size}.note.{os.getpid()}.tmp"
    tmp.write_text(cosigned, encoding="utf-8")
    try:
        os.link(tmp, path)  # atomic create-if-absent: a published checkpoint is never replaced
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path


class S3Publisher:
    """Puts each cosigned checkpoint to an Object Lock bucket (the S3 sink's URL and settings):
    `<prefix>/checkpoints/<origin, %-encoded>/<tree size>.note`, locked for the sink's retention."""

    def __init__(self, url: str) -> None:
        from sinks.s3_config import S3Config

        self.config = S3Config.from_url(url)
        self._client: Any = None

    def __call__(self, checkpoint: Checkpoint, cosigned: str) -> str:
        from datetime import timedelta

        if self._client is None:
            self._client = self.config.client()
            found = self._client.get_object_lock_configuration(Bucket=self.config.bucket)
            if found.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
                raise RuntimeError(f"bucket {self.config.bucket!r} has no Object Lock: refusing to publish")
        key = "/".join(p for p in (self.config.prefix, "checkpoints", _safe(checkpoint.origin)) if p)
        key += f"/{checkpoint.size}.note"
        self._client.put_object(
            Bucket=self.config.bucket, Key=key, Body=cosigned.encode(), ContentType="text/plain; charset=utf-8",
            ChecksumAlgorithm="SHA256", ObjectLockMode=self.config.mode,
            ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=self.config.retention_days),
        )  # fmt: skip
        return key


def run(args: argparse.Namespace) -> int:
    signer = WitnessSigner.parse(Path(args.key).read_text(encoding="utf-8"))
    client = LogClient(args.url, args.token or os.environ.get("ARGUS_TOKEN", ""))
    witness = Witness(
        client,
        load_verifiers(args.log_key),
        signer,
        WitnessState.load(Path(args.state)),
        Path(args.evidence_dir),
        Path(args.publish_dir) if args.publish_dir else None,
        submit=not args.no_submit,
        publish_s3=S3Publisher(args.publish_s3) if args.publish_s3 else None,
    )
    if args.metrics_port:
        start_http_server(args.metrics_port, addr="127.0.0.1")
    while True:
        try:
            refusals = witness.run_once(args.topic)
        except (urllib.error.URLError, OSError) as exc:
            log.warning("log unreachable: %s", exc)
            refusals = []
            if args.once:
                return 2
        if args.once:
            return 3 if refusals else 0
        if refusals and args.exit_on_refusal:
            return 3
        time.sleep(args.interval)


def run_key(args: argparse.Namespace) -> int:
    """Write a new witness signer key (mode 0600) and print its verifier key for the log and auditors."""
    return write_signer_key("witness-key", args, WitnessSigner.generate)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("witness", help="check and cosign a log's checkpoints", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--url", required=True, help="the log's gateway, e.g. http://127.0.0.1:3001")
    parser.add_argument("--token", help="bearer token with read and ingest scopes (default: $ARGUS_TOKEN)")
    parser.add_argument("--log-key", action="append", required=True, metavar="KEY|FILE",
                        help="the log's checkpoint verifier key(s); repeatable")  # fmt: skip
    parser.add_argument("--key", required=True, metavar="FILE", help="this witness's signer key (argus witness-key)")
    parser.add_argument("--state", required=True, metavar="FILE", help="JSON state: last accepted note per origin")
    parser.add_argument("--evidence-dir", required=True, metavar="DIR", help="where refused checkpoints are kept")
    parser.add_argument("--publish-dir", metavar="DIR", help="also write each cosigned checkpoint to a file here")
    parser.add_argument("--publish-s3", metavar="URL",
                        help="also put each cosigned checkpoint to an Object Lock bucket (the S3 sink's URL, "
                             "s3://BUCKET/PREFIX?endpoint=...&retention_days=...)")  # fmt: skip
    parser.add_argument("--topic", help="only this topic's partitions")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between polls (default 10)")
    parser.add_argument("--once", action="store_true", help="one pass; exit 3 if anything was refused")
    parser.add_argument("--exit-on-refusal", action="store_true", help="exit 3 at the first refusal")
    parser.add_argument("--no-submit", action="store_true", help="cosign and publish, but do not post to the log")
    parser.add_argument("--metrics-port", type=int, default=0, help="serve Prometheus metrics on 127.0.0.1:PORT")
    parser.set_defaults(func=run)
    key = subparsers.add_parser("witness-key", help="create a witness's cosigning key", description=run_key.__doc__)
    key.add_argument("--name", required=True, help="witness name, e.g. witness.example.org")
    key.add_argument("--out", required=True, metavar="FILE", help="where to write the private key (mode 0600)")
    key.add_argument("--force", action="store_true", help="replace an existing file")
    key.set_defaults(func=run_key)
