"""The per-actor hash chain: how a stored record is hashed and how a trail is verified.

Pure (no storage imports) so auditors can run it on an export. The specification, with the
exact break rules, is docs/hash-chain.md; test vectors are in tests/vectors/hashchain/.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from argus_spec.event import EVENT_FIELDS
from argus_spec.jcs import canonicalize

RECORD_VERSION = "argus.record.v1"
GENESIS_HASH = "0" * 64
#: Every field of a stored record, in canonical order (currentHash is the one not hashed).
RECORD_FIELDS: tuple[str, ...] = (*EVENT_FIELDS, "source", "receivedAt", "seq", "previousHash", "currentHash")
MAX_SEQ = 2**53 - 1  # JSON numbers are exact only up to here
SEQ, ACTOR, PREV, CUR = (RECORD_FIELDS.index(f) for f in ("seq", "actorId", "previousHash", "currentHash"))
Row = Sequence[Any]  # a record's values in RECORD_FIELDS order

MODIFIED, MISSING, INSERTED, REORDERED, FORKED, BAD_SIGNATURE = (
    "modified", "missing", "inserted", "reordered", "forked", "bad_signature")  # fmt: skip

_row_of = itemgetter(*RECORD_FIELDS)
_TEXT_TYPES = frozenset({str, type(None)})
_texts = itemgetter(*(i for i in range(CUR) if i != SEQ))
_sha256 = hashlib.sha256
_BAD_HASH = "stored currentHash does not match the record's contents"


def canonical_metadata(metadata: Mapping[str, Any] | None) -> str | None:
    """The RFC 8785 text stored and hashed for an event's metadata; ValueError if it cannot be represented.

    Two extensions to RFC 8785 (docs/hash-chain.md 2.2): integers beyond +-(2**53-1) keep their
    exact decimal digits (JCS would refuse them, but Go clients send int64/uint64/big.Int values),
    and -0 stays `-0` (what the client wrote, and what a Go v1 signature covers).
    """
    if metadata is None:
        return None
    try:
        return canonicalize(metadata, exact_numbers=True).decode("utf-8")
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"metadata cannot be canonicalized (RFC 8785): {exc}") from None


def _row_hash_input(r: Row) -> bytes:
    """JCS of the hashed doc. Keys are written pre-sorted and every value is a string, null or a
    safe int, so plain orjson output is byte-identical to RFC 8785 (checked by the tests)."""
    seq = r[SEQ]
    if type(seq) is not int or not 0 < seq <= MAX_SEQ:
        raise ValueError(f"seq must be an integer in 1..2**53-1, got {seq!r}")
    if not _TEXT_TYPES.issuperset(map(type, _texts(r))):
        raise ValueError("record fields must be strings or null (metadata as its canonical JSON text)")
    return orjson.dumps({
        "action": r[4], "actorId": r[7], "actorType": r[6], "eventType": r[3], "id": r[0], "message": r[10],
        "metadata": r[11], "previousHash": r[19], "publicKeyId": r[14], "receivedAt": r[17], "seq": seq,
        "signature": r[12], "signatureAlgorithm": r[13], "signatureFormat": r[15], "source": r[16],
        "status": r[5], "targetId": r[9], "targetType": r[8], "timestamp": r[1], "traceId": r[2],
        "v": RECORD_VERSION,
    })  # fmt: skip


def row_hash(r: Row) -> str:
    """currentHash of a record given as values in RECORD_FIELDS order (the verifier's fast path)."""
    return _sha256(_row_hash_input(r)).hexdigest()


def record_row(record: Mapping[str, Any]) -> tuple[Any, ...]:
    """A record dict's values in RECORD_FIELDS order (absent = None)."""
    try:
        return _row_of(record)
    except KeyError:
        return tuple(record.get(f) for f in RECORD_FIELDS)


def record_hash_input(record: Mapping[str, Any]) -> bytes:
    """The exact bytes hashed: JCS({"v": RECORD_VERSION, every field but currentHash})."""
    return _row_hash_input(record_row(record))


def record_hash(record: Mapping[str, Any]) -> str:
    """currentHash = lowercase hex SHA-256 of `record_hash_input`."""
    return _sha256(_row_hash_input(record_row(record))).hexdigest()


_FROM_EVENT: Any = object()


def chain_record(
    event: Mapping[str, Any],
    *,
    source: str | None,
    received_at: str,
    seq: int,
    previous_hash: str,
    metadata_text: str | None = _FROM_EVENT,
) -> dict[str, Any]:
    """Turn a normalized event into the next record of its actor's chain (metadata → canonical text).

    Pass `metadata_text` when it is already known (from argus.db.admission.validate_storable_event) to skip
    canonicalizing the metadata a second time.
    """
    record: dict[str, Any] = {f: event.get(f) for f in EVENT_FIELDS}
    if metadata_text is _FROM_EVENT:
        metadata_text = canonical_metadata(event.get("metadata"))
    record["metadata"] = metadata_text
    record.update(source=source, receivedAt=received_at, seq=seq, previousHash=previous_hash, currentHash=None)
    record["currentHash"] = record_hash(record)
    return record


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """One finding: which actor, which seq, what kind (see docs/hash-chain.md), and why."""

    actor_id: str
    seq: int
    kind: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"actorId": self.actor_id, "seq": self.seq, "kind": self.kind, "detail": self.detail}


class ChainVerifier:
    """Streaming verifier. Feed records grouped per actor, ordered by seq (what the database query
    and the export produce); breaks of an actor are returned once its records end.

    Memory per actor is constant on an intact trail (the previous record and the records sharing
    one seq); anomalies are kept until the actor ends so they can be classified precisely.
    `anchored=True` (time-range scope) accepts any first seq and previousHash per actor.
    """

    def __init__(self, *, anchored: bool = False, max_pending: int = 256) -> None:
        self.anchored = anchored
        self.max_pending = max_pending
        self.records = 0
        self.actors = 0
        self._seen: set[str] = set()
        self._actor: str | None = None
        self._begin_actor(None, anchored)

    def _begin_actor(self, actor: str | None, anchored: bool) -> None:
        self._actor, self._anchor = actor, anchored
        self._group: list[Row] = []
        self._gseq = 0
        self._prev: Row | None = None
        self._prev_ok = True  # does _prev's stored hash verify?
        self._pending: int | None = None  # link into _prev broke cleanly; seq of the record before it
        self._mism: list[Row] = []
        self._missing: list[tuple[int, int]] = []
        self._present: set[int] = set()
        self._breaks: list[ChainBreak] = []
        self._shift: list[Any] | None = None  # [forged record, last seq of the renumbered run after it]

    def feed(self, record: Mapping[str, Any]) -> list[ChainBreak]:  # a record dict; see feed_row
        return self.feed_row(record_row(record))

    def feed_row(self, r: Row) -> list[ChainBreak]:
        """Take one record (values in RECORD_FIELDS order); returns the breaks of a finished actor."""
        self.records += 1
        seq = r[SEQ]
        if r[ACTOR] != self._actor:
            done = self._end_actor()
            actor = r[ACTOR]
            if not isinstance(actor, str) or type(seq) is not int:
                raise ValueError(f"malformed record: actorId {actor!r}, seq {seq!r}")
            again = actor in self._seen
            self._seen.add(actor)
            self.actors += not again
            self._begin_actor(actor, self.anchored or again)
            if again:
                self._add(seq, REORDERED, "records of this actor are not contiguous in the input")
            self._group, self._gseq = [r], seq
            return done
        if seq == self._gseq:
            self._group.append(r)
        elif type(seq) is int and seq > self._gseq:
            self._settle(r)
            self._group, self._gseq = [r], seq
        elif type(seq) is int:
            self._out_of_order(r)
        else:
            raise ValueError(f"malformed record: seq {seq!r}")
        return []

    def finish(self) -> list[ChainBreak]:
        return self._end_actor()  # the last actor's breaks; call once after the final record

    def _add(self, seq: int, kind: str, detail: str) -> None:
        self._breaks.append(ChainBreak(self._actor or "", seq, kind, detail))

    def _out_of_order(self, r: Row) -> None:
        seq = r[SEQ]
        self._add(seq, REORDERED, f"appears after seq {self._gseq} in the input")
        if not _verifies(r):
            self._add(seq, MODIFIED, _BAD_HASH)
        self._present.add(seq)  # not missing after all, just misplaced

    def _settle(self, nxt: Row | None) -> None:
        """The group at _gseq is complete: pick its genuine record and check links; `nxt` is the next record."""
        group = self._group
        if len(group) == 1:
            return self._link(group[0], _verifies(group[0]))
        p = self._prev
        expect = GENESIS_HASH if self._gseq == 1 and p is None else None
        if p is not None and p[SEQ] == self._gseq - 1:
            expect = p[CUR]
        ranked = sorted(group, key=lambda x: str(x[CUR]))
        oks = {id(x): _verifies(x) for x in ranked}
        chosen = next((x for x in ranked if nxt is not None and x[CUR] == nxt[PREV]), None)
        linking = [x for x in ranked if oks[id(x)] and (expect is None or x[PREV] == expect)]
        if chosen is None:
            chosen = linking[0] if linking else next((x for x in ranked if oks[id(x)]), ranked[0])
        fork = [x for x in linking if x[PREV] == chosen[PREV] and (x is chosen or x[CUR] != chosen[CUR])]
        if len(fork) > 1 and chosen in fork:
            hashes = ", ".join(str(x[CUR]) for x in fork)
            self._add(self._gseq, FORKED, f"{len(fork)} valid records follow the same predecessor: {hashes}")
        else:
            fork = [chosen]
        for x in ranked:
            if not any(x is y for y in fork):
                why = "a copy of the genuine record" if x[CUR] == chosen[CUR] else "it does not link to the predecessor"
                why = why if oks[id(x)] else "its hash does not verify"
                self._add(self._gseq, INSERTED, f"extra record {x[CUR]} at a taken seq ({why})")
        self._link(chosen, oks[id(chosen)])

    def _link(self, r: Row, ok: bool) -> None:
        """Check the chosen record `r` of a seq against the previous one (rules in docs/hash-chain.md)."""
        seq, p = r[SEQ], self._prev
        if not ok and p is not None and seq == p[SEQ] + 1 and self._shifted(r, p):
            self._prev, self._prev_ok = r, True  # a genuine record, only renumbered: later links go to its hash
            return
        after_shift = self._shift is not None
        self._end_shift()
        if not ok:
            if len(self._mism) < self.max_pending:
                self._mism.append(tuple(r))
            else:
                self._add(seq, MODIFIED, _BAD_HASH)
        linked: bool | None = None  # None: nothing to link to (anchor or gap)
        if p is None:
            if seq == 1:
                linked = r[PREV] == GENESIS_HASH
            elif not self._anchor:
                self._missing.append((1, seq - 1))
        elif seq == p[SEQ] + 1:
            linked = r[PREV] == p[CUR]
        else:
            self._missing.append((p[SEQ] + 1, seq - 1))
        forged = self._pending is not None and self._resolve_pending(linked is True)
        if linked is False and ok and after_shift:  # the renumbered run pushed a genuine record out
            self._add(seq - 1, MISSING, f"the genuine record of seq {seq - 1} is absent: the records before it "
                      f"were renumbered one up, and seq {seq} links to none of them")  # fmt: skip
        elif linked is False and ok and self._prev_ok and not forged:
            self._pending = 0 if p is None else p[SEQ]
        self._prev, self._prev_ok = r, ok

    def _shifted(self, r: Row, p: Row) -> bool:
        """Is `r` a genuine record renumbered one seq up to make room for a forgery (rule 5a)? It
        verifies at seq - 1, and either continues such a run or claims the same predecessor as the
        verifying record before it, which is then the forgery: linked by no one, it displaced `r`."""
        if not _verifies_at(r, r[SEQ] - 1):
            return False
        if self._shift is not None:
            if self._shift[1] != p[SEQ] or r[PREV] != p[CUR]:
                return False
            self._shift[1] = r[SEQ]
            return True
        if not self._prev_ok or r[PREV] != p[PREV] or self._pending is not None:
            return False
        self._shift = [p, r[SEQ]]
        return True

    def _end_shift(self) -> None:
        if self._shift is None:
            return
        (forged, last), self._shift = self._shift, None
        seq = forged[SEQ]
        moved = f"seq {seq + 1} holds" if last == seq + 1 else f"seqs {seq + 1}..{last} hold"
        self._add(seq, INSERTED, f"forged: it claims the predecessor of the genuine record of seq {seq}; {moved} "
                  f"the genuine records from seq {seq} on, renumbered one up to make room")  # fmt: skip

    def _resolve_pending(self, trusted: bool) -> bool:
        """Blame a clean link break into _prev: on the record before it when _prev's successor links to
        _prev (that one was re-hashed), else on _prev itself (linked by neither neighbour); True if the latter."""
        before, p = self._pending, self._prev
        self._pending = None
        if before is None or p is None:
            return False
        if not trusted:
            where = f"seq {before}" if before else "the genesis hash"
            why = f"does not link to {where} and no successor links to it: forged or replaced"
            self._add(p[SEQ], INSERTED, f"{why} (if it is the newest record: or {where} was re-hashed)")
            return True
        if before:
            self._add(before, MODIFIED, f"re-hashed: seq {p[SEQ]} links to a different hash")
        else:
            self._add(p[SEQ], MODIFIED, "re-hashed: does not link to the genesis hash")
        return False

    def _end_actor(self) -> list[ChainBreak]:
        if self._actor is None:
            return []
        if self._group:
            self._settle(None)
        self._end_shift()
        self._resolve_pending(False)
        moved: set[int] = set()
        gaps = [s for lo, hi in self._missing if hi - lo < 64 for s in range(lo, hi + 1)]
        stated = {x[SEQ] for x in self._mism}
        for x in self._mism:  # a record that verifies at another seq was moved there from that seq
            origin = next((s for s in (*sorted(stated - {x[SEQ]}), *gaps) if _verifies_at(x, s)), None)
            if origin is None:
                self._add(x[SEQ], MODIFIED, _BAD_HASH)
            else:
                self._add(x[SEQ], REORDERED, f"holds the record of seq {origin} (its hash verifies there)")
                moved.add(origin)
        for lo, hi in _minus(self._missing, self._present | moved):
            self._add(lo, MISSING, f"seq {lo} is absent" if lo == hi else f"seqs {lo}..{hi} are absent")
        self._actor = None
        return sorted(self._breaks, key=lambda b: (b.seq, b.kind, b.detail))


def _minus(ranges: list[tuple[int, int]], drop: set[int]) -> list[tuple[int, int]]:
    """Seq ranges without the seqs in `drop`."""
    out = []
    for lo, hi in ranges:
        for s in sorted(x for x in drop if lo <= x <= hi):
            out += [(lo, s - 1)] if lo < s else []
            lo = s + 1
        out += [(lo, hi)] if lo <= hi else []
    return out


def _verifies(r: Row) -> bool:
    """Does the stored currentHash match the contents? (An unhashable record does not.)"""
    try:
        return _sha256(_row_hash_input(r)).hexdigest() == r[CUR]
    except ValueError:
        return False


def _verifies_at(r: Row, seq: int) -> bool:
    return _verifies((*r[:SEQ], seq, *r[SEQ + 1 :]))
