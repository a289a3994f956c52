"""The S3 sink's settings, all from its URL (configs/sinks.yaml holds only strings):

    s3://BUCKET/PREFIX?endpoint=URL&region=R&profile=P&mode=COMPLIANCE&retention_days=N&interval=S

endpoint        an S3-compatible server (default: AWS for the region); path-style addressing with it
region          the bucket's region (default: the credential chain's, else us-east-1)
profile         a named profile of the shared AWS config; credentials otherwise come from AWS's standard
                chain (environment, shared files, container or instance role), never from the URL
mode            Object Lock retention mode of every object: COMPLIANCE (default) or GOVERNANCE
retention_days  how long each object is locked from its write (default 2555, about seven years)
interval        seconds of commits gathered per object and partition (default 5)
format          record (default: the committed records, which `argus verify --from-s3` checks) or ocsf
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from argus.runtime.settings import ConfigError
from sinks.formats import render_from_url

MODES = ("COMPLIANCE", "GOVERNANCE")


@dataclass(frozen=True)
class S3Config:
    bucket: str
    prefix: str
    endpoint: str | None = None
    region: str | None = None
    profile: str | None = None
    mode: str = "COMPLIANCE"
    retention_days: float = 2555.0
    interval: float = 5.0
    format: str = "record"

    @classmethod
    def from_url(cls, url: str) -> S3Config:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ConfigError(f"S3 sink URL must be s3://BUCKET[/PREFIX][?...], not {url!r}")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(query) - {"endpoint", "region", "profile", "mode", "retention_days", "interval", "format"}
        if unknown:
            raise ConfigError(f"S3 sink URL {url!r}: unknown option(s) {sorted(unknown)}")
        mode = query.get("mode", "COMPLIANCE").upper()
        if mode not in MODES:
            raise ConfigError(f"S3 sink URL {url!r}: mode must be one of {MODES}")
        try:
            retention, interval = float(query.get("retention_days", 2555)), float(query.get("interval", 5))
        except ValueError as exc:
            raise ConfigError(f"S3 sink URL {url!r}: {exc}") from None
        if retention <= 0 or interval < 0:
            raise ConfigError(f"S3 sink URL {url!r}: retention_days must be > 0 and interval >= 0")
        render_from_url(url)  # checks the format
        return cls(parts.netloc, parts.path.strip("/"), query.get("endpoint"), query.get("region"),
                   query.get("profile"), mode, retention, interval, query.get("format", "record"))  # fmt: skip

    def client(self) -> Any:
        """A boto3 S3 client (imported here: only deployments with an S3 sink need boto3)."""
        import boto3
        from botocore.config import Config

        session = boto3.session.Session(profile_name=self.profile)
        style = {"addressing_style": "path"} if self.endpoint else {}
        return session.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region or session.region_name or "us-east-1",
            config=Config(s3=style, retries={"mode": "standard", "max_attempts": 3}),
        )
