"""The S3 sink against the real local S3 server (deploy/local/s3.sh): the server itself enforces
Object Lock on what the sink wrote, the sink refuses an unlocked bucket, and `argus verify
--from-s3` verifies a bucket written by a real processor and catches tampering it can detect."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from botocore.exceptions import ClientError

from argus_spec.uuid7 import uuid7
from sinks import s3_layout
from sinks.s3 import S3Sink
from sinks.s3_config import S3Config
from tests.integration.harness import Stack, make_event, wait_for
from tests.integration.sink_kinds import S3_CREDENTIALS, make_locked_bucket, s3_client, s3_endpoint, start_with_sink


def _config(bucket: str, mode: str = "COMPLIANCE") -> S3Config:
    return S3Config.from_url(f"s3://{bucket}/trail?endpoint={s3_endpoint()}&region=us-east-1&mode={mode}"
                             "&retention_days=1")  # fmt: skip


def _records(actor: str, count: int) -> list[dict[str, Any]]:
    return [{"id": str(uuid7()), "actorId": actor, "seq": i + 1, "message": f"m{i}"} for i in range(count)]


def _refused(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in S3_CREDENTIALS.items():  # the sink takes AWS's standard chain: here the environment
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("mode", ["COMPLIANCE", "GOVERNANCE"])
async def test_the_server_refuses_to_delete_or_overwrite_a_locked_version(unique_name: str, mode: str) -> None:
    bucket = f"argus-lock-{unique_name}"
    make_locked_bucket(bucket)
    sink = S3Sink("s3", _config(bucket, mode))
    records = _records("svc-lock", 5)
    await sink.send_range(0, 1, 3, records)
    await sink.close()
    client = s3_client()
    key, manifest_key = s3_layout.keys("trail", 0, 1, 3)
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["ObjectLockMode"] == mode
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(hours=23)
    version = head["VersionId"]
    original = client.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()

    assert _refused(lambda: client.delete_object(Bucket=bucket, Key=key, VersionId=version)) == "AccessDenied"
    if mode == "COMPLIANCE":  # nobody may bypass compliance mode
        assert _refused(lambda: client.delete_object(Bucket=bucket, Key=key, VersionId=version,
                                                     BypassGovernanceRetention=True)) == "AccessDenied"  # fmt: skip
    batch = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key, "VersionId": version}]})
    assert [e["Code"] for e in batch.get("Errors", [])] == ["AccessDenied"]
    # An "overwrite" only adds a newer version; the locked one keeps its bytes.
    client.put_object(Bucket=bucket, Key=key, Body=b"tampered")
    assert client.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read() == original
    versions = client.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert version in {v["VersionId"] for v in versions} and len(versions) == 2
    manifest = orjson.loads(client.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    assert s3_layout.decode(original, manifest) == records
    assert manifest["actors"] == {"svc-lock": [1, 5]} and manifest["records"] == 5


async def test_the_sink_refuses_a_bucket_without_object_lock(unique_name: str) -> None:
    bucket = f"argus-nolock-{unique_name}"
    s3_client().create_bucket(Bucket=bucket)
    sink = S3Sink("s3", _config(bucket))
    with pytest.raises(ClientError):  # no lock configuration at all
        await sink.send_range(0, 1, 1, _records("svc", 1))
    assert s3_client().list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def _verify(url: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run([sys.executable, "-m", "argus_commands", "verify", "--from-s3", url, "--json"],
                            capture_output=True, env={**S3_CREDENTIALS, "PATH": "/usr/bin:/bin"})  # fmt: skip
    return result.returncode, orjson.loads(result.stdout) if result.stdout else {"stderr": result.stderr.decode()}


def test_argus_verify_from_s3_checks_a_bucket_a_processor_wrote(stack: Stack) -> None:
    from tests.integration.sink_kinds import S3, s3_bucket

    events = [make_event(f"svc-v{i % 5}", i, id=uuid7()) for i in range(800)]
    stack.produce_envelopes(events)
    start_with_sink(stack, S3)
    wait_for(lambda: len(S3.delivered(stack)) >= len(events), 120, lambda: f"all in the bucket\n{stack.logs()}", 0.5)
    url = f"s3://{s3_bucket(stack)}/trail?endpoint={s3_endpoint()}&region=us-east-1"
    code, report = _verify(url)
    assert (code, report["ok"], report["records"], report["actors"]) == (0, True, 800, 5), report
    _assert_manifests_carry_the_stored_trees(stack, url)

    # Tampering the server allows (a new version of an object and its manifest) is still caught.
    client = s3_client()
    listed = client.list_objects_v2(Bucket=s3_bucket(stack), Prefix="trail/records/")["Contents"]
    key = sorted(item["Key"] for item in listed)[0]
    partition, first, through = s3_layout.parse_key(key) or (0, 0, 0)
    manifest_key = s3_layout.keys("trail", partition, first, through)[1]
    manifest = orjson.loads(client.get_object(Bucket=s3_bucket(stack), Key=manifest_key)["Body"].read())
    records = s3_layout.decode(client.get_object(Bucket=s3_bucket(stack), Key=key)["Body"].read(), manifest)
    records[0] = {**records[0], "message": "rewritten"}
    blob, forged = s3_layout.encode(partition, first, through, records)
    client.put_object(Bucket=s3_bucket(stack), Key=key, Body=blob)
    client.put_object(Bucket=s3_bucket(stack), Key=manifest_key, Body=orjson.dumps(forged))
    code, report = _verify(url)
    assert code == 1 and not report["ok"]
    assert [b["kind"] for b in report["breaks"]] and report["breaks"][0]["actorId"] == records[0]["actorId"]


def _manifests(bucket: str) -> dict[str, dict[str, Any]]:
    client = s3_client()
    listed = client.list_objects_v2(Bucket=bucket, Prefix="trail/manifests/")["Contents"]
    return {i["Key"]: orjson.loads(client.get_object(Bucket=bucket, Key=i["Key"])["Body"].read()) for i in listed}


def _assert_manifests_carry_the_stored_trees(stack: Stack, url: str) -> None:
    """Each partition's newest manifest names the tree the processor stored (its head, and the
    signed checkpoint of that size where one was emitted); sizes grow with the ranges; and a
    manifest whose leaves were altered (records untouched, so the chain still verifies) fails."""
    from tests.integration.sink_kinds import s3_bucket

    manifests = _manifests(s3_bucket(stack))
    newest: dict[int, dict[str, Any]] = {}
    for manifest in sorted(manifests.values(), key=lambda m: (m["partition"], m["throughCommitSeq"])):
        previous = newest.get(manifest["partition"], {"treeSize": 0})
        assert manifest["treeSize"] == previous["treeSize"] + manifest["records"], manifest
        assert manifest["treeTopic"] == stack.topic and len(manifest["leaves"]) == manifest["records"]
        newest[manifest["partition"]] = manifest
    columns = "kafka_partition, tree_size, root_hash"
    heads = stack.query(f"SELECT {columns} FROM merkle_trees WHERE topic = :t", t=stack.topic)
    assert {p: (m["treeSize"], m["rootHash"]) for p, m in newest.items()} == {
        r.kafka_partition: (r.tree_size, r.root_hash) for r in heads
    }
    signed = stack.query(f"SELECT {columns} FROM checkpoints WHERE topic = :t", t=stack.topic)
    by_size = {(m["partition"], m["treeSize"]): m["rootHash"] for m in manifests.values()}
    for row in signed:  # checkpoints are emitted per batch or interval: compare those at a range's end
        assert by_size.get((row.kafka_partition, row.tree_size), row.root_hash) == row.root_hash, row

    key, manifest = sorted(manifests.items())[0]
    offset, commit_seq = manifest["leaves"][0]
    forged = {**manifest, "leaves": [[offset, commit_seq + 1], *manifest["leaves"][1:]]}
    s3_client().put_object(Bucket=s3_bucket(stack), Key=key, Body=orjson.dumps(forged))
    code, report = _verify(url)
    assert code == 1 and not report["ok"], report
    assert any("do not rebuild the tree root" in n for n in report["notes"]), report
    s3_client().put_object(Bucket=s3_bucket(stack), Key=key, Body=orjson.dumps(manifest))
