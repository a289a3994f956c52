"""The server's registry of trusted public keys: which key id may sign, with what, and when.

Why: a signature means something only if the verifier knows whose key it is and whether it was in
force. Validity is judged at the *event's* timestamp, so a rotated key (given a notAfter) keeps old
events verifiable forever; `ingestGraceSeconds` also bounds a retired key by *arrival* time, against
backdating with a leaked key (docs/signatures.md, "Rotation"). Reload builds a whole new snapshot and
swaps one reference: lookups never see a half-loaded registry, a broken file never drops old keys.

The registry also holds the signature policy (`mustSign`): which sources and actors must sign. The
gateway, the processor and `argus verify` all ask `must_sign`, so a signature stripped from a stored
record (and the chain re-hashed) is still caught (docs/signatures.md, "Signature policy").
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import signal
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from nacl.signing import VerifyKey

from argus_spec.signature import Algorithm, PublicKey, UnsupportedKeyError, key_algorithm

log = logging.getLogger(__name__)

MAX_KEY_ID_LEN = 256


class KeyRegistryError(ValueError):
    """The key configuration cannot be loaded; the message names the file and key id at fault."""


class KeyLookupError(LookupError):
    """No usable key for an event; `reason` is the text reported for the event."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownKeyError(KeyLookupError):
    """The publicKeyId is not in the registry."""


class KeyNotYetValidError(KeyLookupError):
    """The event is timestamped before the key's notBefore."""


class KeyExpiredError(KeyLookupError):
    """The event is timestamped at or after the key's notAfter (or arrived after notAfter + grace)."""


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class PublicKeyEntry:
    """One trusted key, parsed once: the cryptography object, and a PyNaCl VerifyKey for Ed25519."""

    key_id: str
    algorithm: Algorithm
    public_key: PublicKey
    pem: bytes
    source: str
    not_before: datetime | None = None
    not_after: datetime | None = None  # exclusive
    nacl_key: VerifyKey | None = None

    def check_valid(self, at: datetime, received_at: datetime | None, grace: timedelta | None) -> None:
        """Raise KeyNotYetValidError/KeyExpiredError unless not_before <= at < not_after."""
        if self.not_before is not None and at < self.not_before:
            raise KeyNotYetValidError(
                f"signature: key {self.key_id!r} is not valid before {_iso(self.not_before)} (event at {_iso(at)})"
            )
        if self.not_after is None:
            return
        if at >= self.not_after:
            raise KeyExpiredError(
                f"signature: key {self.key_id!r} expired at {_iso(self.not_after)} (event at {_iso(at)})"
            )
        if received_at is not None and grace is not None and received_at >= self.not_after + grace:
            raise KeyExpiredError(
                f"signature: key {self.key_id!r} expired at {_iso(self.not_after)}; events signed with it "
                f"are accepted until {_iso(self.not_after + grace)} (received {_iso(received_at)})"
            )


def parse_public_key(pem: bytes, key_id: str, source: str, algorithm: str | None = None) -> PublicKeyEntry:
    """Parse a PKIX (`PUBLIC KEY`) or PKCS#1 (`RSA PUBLIC KEY`) PEM; errors name `source` and `key_id`."""
    where = f"{source} (key {key_id!r})"
    if b"PRIVATE KEY" in pem:
        raise KeyRegistryError(f"{where}: holds a private key; the registry takes public keys only")
    if pem.count(b"-----BEGIN ") != 1:
        raise KeyRegistryError(f"{where}: expected exactly one PEM public key block")
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise KeyRegistryError(f"{where}: not a valid PEM public key: {exc}") from None
    if not isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        raise KeyRegistryError(f"{where}: unsupported key type {type(key).__name__}; use RSA or Ed25519")
    try:
        key_alg = key_algorithm(key)
    except UnsupportedKeyError as exc:
        raise KeyRegistryError(f"{where}: {exc}") from None
    if algorithm is not None and algorithm != key_alg:
        raise KeyRegistryError(f"{where}: algorithm {algorithm!r} does not match the key, which is {key_alg}")
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) if key_alg == "EdDSA" else None
    nacl_key = VerifyKey(raw) if raw is not None else None
    return PublicKeyEntry(key_id, key_alg, key, pem, source, nacl_key=nacl_key)


def _moment(value: Any, field: str, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise KeyRegistryError(f"{where}: {field} must be an RFC 3339 date-time") from None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise KeyRegistryError(f"{where}: {field} needs a timezone, e.g. 2026-01-01T00:00:00Z")
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise KeyRegistryError(f"{where}: {field} must be a date-time")


@dataclass(frozen=True)
class SigningRule:
    """One `mustSign` entry: events of this source (token name) or of an actorId matching this
    glob must carry a signature, from `since` (compared with the record's receivedAt) on."""

    source: str | None = None
    actor: str | None = None  # exact id or fnmatch glob such as "svc-*"
    since: datetime | None = None

    def applies(self, source: str | None, actor: str | None, received_at: datetime | None) -> bool:
        if self.since is not None and received_at is not None and received_at < self.since:
            return False
        if self.source is not None:
            return source == self.source
        return actor is not None and self.actor is not None and fnmatch.fnmatchcase(actor, self.actor)

    def describe(self) -> str:
        what = f"source {self.source!r}" if self.source is not None else f"actorId {self.actor!r}"
        return what + (f" since {_iso(self.since)}" if self.since is not None else "")


def _rules(doc: Any, path: Path) -> tuple[SigningRule, ...]:
    items = doc.get("mustSign", [])
    if not isinstance(items, list):
        raise KeyRegistryError(f"{path}: mustSign must be a list of {{source: NAME}} or {{actorId: GLOB}} entries")
    rules = []
    for index, item in enumerate(items):
        where = f"{path}: mustSign[{index}]"
        if not isinstance(item, dict) or set(item) - {"source", "actorId", "since"}:
            raise KeyRegistryError(f"{where}: expected a mapping with source or actorId, and optional since")
        if ("source" in item) == ("actorId" in item):
            raise KeyRegistryError(f"{where}: give exactly one of 'source' or 'actorId'")
        value = item.get("source", item.get("actorId"))
        if not isinstance(value, str) or not value:
            raise KeyRegistryError(f"{where}: source/actorId must be a non-empty string")
        since = _moment(item.get("since"), "since", where)
        rules.append(SigningRule(value, None, since) if "source" in item else SigningRule(None, value, since))
    return tuple(rules)


def _yaml_entries(path: Path) -> tuple[list[PublicKeyEntry], timedelta | None, tuple[SigningRule, ...]]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KeyRegistryError(f"{path}: cannot read key configuration: {exc}") from None
    items = doc.get("keys") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise KeyRegistryError(f"{path}: expected a mapping with a 'keys' list")
    rules = _rules(doc, path)
    grace_value = doc.get("ingestGraceSeconds")
    if grace_value is not None and (not isinstance(grace_value, (int, float)) or grace_value < 0):
        raise KeyRegistryError(f"{path}: ingestGraceSeconds must be a non-negative number")
    grace = None if grace_value is None else timedelta(seconds=grace_value)
    entries = []
    for index, item in enumerate(items):
        where = f"{path}: keys[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise KeyRegistryError(f"{where}: each key needs a non-empty string 'id'")
        key_id = item["id"]
        where = f"{path}: key {key_id!r}"
        if unknown := set(item) - {"id", "algorithm", "pem", "pemFile", "notBefore", "notAfter"}:
            raise KeyRegistryError(f"{where}: unknown fields {sorted(unknown)}")
        if ("pem" in item) == ("pemFile" in item):
            raise KeyRegistryError(f"{where}: give exactly one of 'pem' or 'pemFile'")
        if "pem" in item:
            source, pem = f"{path} (inline pem)", str(item["pem"]).encode()
        else:
            pem_path = path.parent / str(item["pemFile"])
            source, pem = str(pem_path), _read_pem(pem_path, key_id)
        entry = parse_public_key(pem, key_id, source, item.get("algorithm"))
        not_before = _moment(item.get("notBefore"), "notBefore", where)
        not_after = _moment(item.get("notAfter"), "notAfter", where)
        if not_before and not_after and not_before >= not_after:
            raise KeyRegistryError(f"{where}: notBefore must be earlier than notAfter")
        entries.append(replace(entry, not_before=not_before, not_after=not_after))
    return entries, grace, rules


def _read_pem(path: Path, key_id: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise KeyRegistryError(f"{path} (key {key_id!r}): cannot read: {exc}") from None


def _folder_entries(path: Path) -> list[PublicKeyEntry]:
    entries = []
    for pem_path in sorted(path.glob("*.pem")):
        key_id = pem_path.name[: -len(".pem")]
        entries.append(parse_public_key(_read_pem(pem_path, key_id), key_id, str(pem_path)))
    return entries


@dataclass(frozen=True)
class _Snapshot:
    keys: Mapping[str, PublicKeyEntry]
    grace: timedelta | None
    rules: tuple[SigningRule, ...] = ()


def _snapshot(
    entries: Iterable[PublicKeyEntry], grace: timedelta | None, rules: tuple[SigningRule, ...] = ()
) -> _Snapshot:
    keys: dict[str, PublicKeyEntry] = {}
    for entry in entries:
        if not entry.key_id or len(entry.key_id) > MAX_KEY_ID_LEN:
            raise KeyRegistryError(f"{entry.source}: key id must have 1 to {MAX_KEY_ID_LEN} characters")
        if entry.key_id in keys:
            raise KeyRegistryError(f"{entry.source}: duplicate key id {entry.key_id!r}")
        keys[entry.key_id] = entry
    return _Snapshot(keys, grace, rules)


class KeyRegistry:
    """Trusted keys by id. Thread-safe: lookups read one immutable snapshot; reload swaps it."""

    def __init__(
        self,
        entries: Iterable[PublicKeyEntry] = (),
        *,
        ingest_grace: timedelta | None = None,
        source: Path | None = None,
        must_sign: Iterable[SigningRule] = (),
    ) -> None:
        self._snapshot = _snapshot(entries, ingest_grace, tuple(must_sign))
        self._source = source
        self._reload_lock = threading.Lock()

    @classmethod
    def load(cls, path: str | Path) -> KeyRegistry:
        """From a YAML file (`keys: [...]`) or a folder of `<key-id>.pem` files."""
        registry = cls(source=Path(path))
        registry.reload()
        return registry

    @staticmethod
    def _read(path: Path) -> _Snapshot:
        if path.is_dir():
            return _snapshot(_folder_entries(path), None)
        if not path.exists():
            raise KeyRegistryError(f"{path}: no such key file or folder")
        return _snapshot(*_yaml_entries(path))

    def reload(self) -> list[str]:
        """Re-read the source and swap in the result; on error the old keys stay. Returns the key ids."""
        if self._source is None:
            raise KeyRegistryError("this registry was built in memory and has no file to reload")
        with self._reload_lock:  # two SIGHUPs in a row must not let an older read win
            snapshot = self._read(self._source)
            self._snapshot = snapshot
        return sorted(snapshot.keys)

    def lookup(self, key_id: str, at: datetime, *, received_at: datetime | None = None) -> PublicKeyEntry:
        """The key `key_id` if it was valid at `at` (the event's timestamp); else a KeyLookupError."""
        snapshot = self._snapshot
        entry = snapshot.keys.get(key_id)
        if entry is None:
            raise UnknownKeyError(f"signature: unknown publicKeyId {key_id!r}")
        entry.check_valid(at, received_at, snapshot.grace)
        return entry

    def must_sign(self, source: str | None, actor: str | None, received_at: datetime | None = None) -> str | None:
        """The policy rule that requires this source's or actor's events to be signed, described
        for a rejection reason; None when no rule applies. `received_at` None: every rule applies."""
        rule = next((r for r in self._snapshot.rules if r.applies(source, actor, received_at)), None)
        return None if rule is None else rule.describe()

    @property
    def has_policy(self) -> bool:
        return bool(self._snapshot.rules)

    @property
    def source(self) -> Path | None:
        return self._source

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._snapshot.keys)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by content (PEMs and validity), so a process pool worker gets the same keys."""
        snapshot = self._snapshot
        rows = [(e.key_id, e.pem, e.source, e.not_before, e.not_after) for e in snapshot.keys.values()]
        return (_rebuild, (rows, snapshot.grace, self._source, snapshot.rules))


def _rebuild(
    rows: list[tuple[str, bytes, str, datetime | None, datetime | None]],
    grace: timedelta | None,
    source: Path | None,
    rules: tuple[SigningRule, ...] = (),
) -> KeyRegistry:
    entries = [replace(parse_public_key(pem, kid, src), not_before=nb, not_after=na) for kid, pem, src, nb, na in rows]
    return KeyRegistry(entries, ingest_grace=grace, source=source, must_sign=rules)


def install_sighup_reload(
    registry: KeyRegistry,
    loop: asyncio.AbstractEventLoop,
    on_reload: Callable[[list[str] | Exception], None] | None = None,
) -> Callable[[], None]:
    """Reload `registry` on SIGHUP, in a worker thread so the event loop never blocks on file I/O.

    A failed reload is logged and keeps the old keys. `on_reload` gets the key ids or the error
    (for metrics/tests). Returns a function that removes the handler.
    """

    def done(future: asyncio.Future[list[str]]) -> None:
        error = future.exception()
        outcome: list[str] | Exception
        if error is not None:
            log.error("key registry reload failed, keeping the previous keys: %s", error)
            outcome = error if isinstance(error, Exception) else RuntimeError(str(error))
        else:
            outcome = future.result()
            log.info("key registry reloaded: %d keys", len(outcome))
        if on_reload is not None:
            on_reload(outcome)

    def handler() -> None:
        loop.run_in_executor(None, registry.reload).add_done_callback(done)

    loop.add_signal_handler(signal.SIGHUP, handler)

    def uninstall() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return uninstall
