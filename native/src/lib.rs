//! The processor's per-event hot path in Rust: a chained record, its hash and its stored row, the
//! COPY text of a batch, and the bytes an event's v2 attestation signs (`batch_message`).
//!
//! The reference is Python (spec/argus_spec/hashchain.py `chain_record`, processor/store.py
//! `stored_row` and `_copy_text`); auditors run that one. This module covers only the common
//! case and says so: `chain_row` returns None for any input outside it (a value that is not a
//! plain str or None, a seq out of range, a timestamp that is not strict ASCII RFC 3339 within
//! years 1-9999 in UTC, a string that is not valid UTF-8), and the caller then runs the
//! reference, which produces the record or raises exactly as it always did. tests/unit/
//! test_native.py cross-checks both with hypothesis. `batch_message` stands in for
//! spec/argus_spec/receipt.py (`BatchSignature.parse` and `signed_bytes`) on the same terms,
//! cross-checked by tests/unit/test_native_attestation.py.

use pyo3::prelude::*;
use pyo3::sync::GILOnceCell;
use pyo3::types::{
    timezone_utc, PyBool, PyBytes, PyDateAccess, PyDateTime, PyDict, PyInt, PyList, PyString,
    PyTimeAccess, PyTuple, PyTzInfoAccess,
};
use sha2::{Digest, Sha256};

/// argus_spec.event.EVENT_FIELDS, then what the server adds: argus_spec.hashchain.RECORD_FIELDS.
const RECORD_FIELDS: [&str; 21] = [
    "id",
    "timestamp",
    "traceId",
    "eventType",
    "action",
    "status",
    "actorType",
    "actorId",
    "targetType",
    "targetId",
    "message",
    "metadata",
    "signature",
    "signatureAlgorithm",
    "publicKeyId",
    "signatureFormat",
    "source",
    "receivedAt",
    "seq",
    "previousHash",
    "currentHash",
];
const EVENT_FIELD_COUNT: usize = 16;
const TIMESTAMP: usize = 1;
const METADATA: usize = 11;
const SIGNATURE: usize = 12;
const SIGNATURE_FORMAT: usize = 15;
const SEQ: usize = 18;
const CURRENT_HASH: usize = 20;
const MAX_SEQ: i64 = (1 << 53) - 1;
const RECORD_VERSION: &str = "argus.record.v1";
/// The hashed doc's members in JCS (sorted) order: name, index in RECORD_FIELDS (None: seq, then "v").
const HASHED: [(&str, usize); 20] = [
    ("action", 4),
    ("actorId", 7),
    ("actorType", 6),
    ("eventType", 3),
    ("id", 0),
    ("message", 10),
    ("metadata", 11),
    ("previousHash", 19),
    ("publicKeyId", 14),
    ("receivedAt", 17),
    ("seq", SEQ),
    ("signature", 12),
    ("signatureAlgorithm", 13),
    ("signatureFormat", 15),
    ("source", 16),
    ("status", 5),
    ("targetId", 9),
    ("targetType", 8),
    ("timestamp", 1),
    ("traceId", 2),
];
/// argus_spec.canonical.V1_TEXT_FIELDS, as indices in RECORD_FIELDS.
const V1_TEXT_FIELDS: [usize; 9] = [2, 1, 3, 4, 5, 6, 7, 8, 9];

/// A string as orjson writes it (RFC 8785 for these values): `"` and `\` escaped, the short
/// escapes \b \t \n \f \r, other control characters as \u00xx, everything else as UTF-8.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            0x0c => b"\\f",
            b'\r' => b"\\r",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 15) as usize]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// The exact bytes argus_spec.hashchain `_row_hash_input` hashes, given the checked text fields.
fn hash_input(texts: &[Option<&str>; 21], seq: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(768);
    out.push(b'{');
    for (name, index) in HASHED {
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\":");
        if index == SEQ {
            out.extend_from_slice(seq.to_string().as_bytes());
        } else {
            match texts[index] {
                Some(text) => push_json_str(&mut out, text),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.push(b',');
    }
    out.extend_from_slice(b"\"v\":");
    push_json_str(&mut out, RECORD_VERSION);
    out.push(b'}');
    out
}

fn hex_sha256(data: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(data);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

/// A UTC instant: year, month, day, hour, minute, second, microsecond.
type Utc = (i32, u8, u8, u8, u8, u8, u32);

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + if m <= 2 { 1 } else { 0 }, m, d)
}

/// argus_spec.event `event_time_of` for a strict ASCII RFC 3339 timestamp whose date and time
/// are valid and whose UTC instant falls in years 1-9999; None for anything else (the caller
/// then runs the reference, which decides).
fn event_time(text: &str) -> Option<Utc> {
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let sep = |at: usize, c: u8| b.get(at) == Some(&c);
    if !(sep(4, b'-')
        && sep(7, b'-')
        && (sep(10, b'T') || sep(10, b't'))
        && sep(13, b':')
        && sep(16, b':'))
    {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut at = 19;
    let mut micros = 0i64;
    if sep(at, b'.') {
        let digits = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || digits > 9 {
            return None;
        }
        for i in 0..6 {
            micros = micros * 10
                + if i < digits {
                    i64::from(b[at + 1 + i] - b'0')
                } else {
                    0
                };
        }
        at += 1 + digits;
    }
    let offset_minutes = match b.get(at..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (hh, mm) = (num(at + 1, 2)?, num(at + 4, 2)?);
            if hh > 15 || mm > 59 {
                return None;
            }
            if *sign == b'-' {
                -(hh * 60 + mm)
            } else {
                hh * 60 + mm
            }
        }
        _ => return None,
    };
    if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let local = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    let utc = local - offset_minutes * 60;
    let (y, m, d) = civil_from_days(utc.div_euclid(86400));
    if !(1..=9999).contains(&y) {
        return None;
    }
    let s = utc.rem_euclid(86400);
    Some((
        y as i32,
        m as u8,
        d as u8,
        (s / 3600) as u8,
        (s / 60 % 60) as u8,
        (s % 60) as u8,
        micros as u32,
    ))
}

/// `value` as text if it is exactly a str (what the reference hashes) or None; Err(()) otherwise,
/// including a str that is not valid UTF-8 (a lone surrogate: orjson refuses it).
fn text_of<'a>(value: &'a Bound<'_, PyAny>) -> Result<Option<&'a str>, ()> {
    if value.is_none() {
        return Ok(None);
    }
    let string = value.downcast_exact::<PyString>().map_err(|_| ())?;
    string.to_str().map(Some).map_err(|_| ())
}

/// RECORD_FIELDS as interned Python strings, made once.
fn record_keys(py: Python<'_>) -> &Vec<Py<PyString>> {
    static KEYS: GILOnceCell<Vec<Py<PyString>>> = GILOnceCell::new();
    KEYS.get_or_init(py, || {
        RECORD_FIELDS
            .iter()
            .map(|name| PyString::intern(py, name).unbind())
            .collect()
    })
}

/// One event's record and written row: chain_record(...) and stored_row(record, ...) of the
/// reference, or None when the input is outside the common case (the caller runs the reference).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (event, source, received_at, seq, previous_hash, metadata_text, topic, partition, offset,
                    commit_seq, attestation, unattested_claim))]
fn chain_row<'py>(
    py: Python<'py>,
    event: &Bound<'py, PyAny>,
    source: Bound<'py, PyAny>,
    received_at: Bound<'py, PyAny>,
    seq: Bound<'py, PyAny>,
    previous_hash: Bound<'py, PyAny>,
    metadata_text: Bound<'py, PyAny>,
    topic: Bound<'py, PyAny>,
    partition: Bound<'py, PyAny>,
    offset: Bound<'py, PyAny>,
    commit_seq: Bound<'py, PyAny>,
    attestation: Bound<'py, PyAny>,
    unattested_claim: Bound<'py, PyAny>,
) -> PyResult<Option<(Bound<'py, PyDict>, Bound<'py, PyTuple>)>> {
    let Ok(event) = event.downcast_exact::<PyDict>() else {
        return Ok(None);
    };
    let none = py.None().into_bound(py);
    let mut values: Vec<Bound<'py, PyAny>> = Vec::with_capacity(29);
    for name in &record_keys(py)[..EVENT_FIELD_COUNT] {
        values.push(
            event
                .get_item(name.bind(py))?
                .unwrap_or_else(|| none.clone()),
        );
    }
    values[METADATA] = metadata_text;
    values.extend([source, received_at, seq, previous_hash]);
    if !values[SEQ].is_exact_instance_of::<PyInt>() {
        return Ok(None);
    }
    let Ok(seq_value) = values[SEQ].extract::<i64>() else {
        return Ok(None);
    };
    if !(1..=MAX_SEQ).contains(&seq_value) {
        return Ok(None);
    }
    let mut texts: [Option<&str>; 21] = [None; 21];
    for (i, value) in values.iter().enumerate() {
        if i != SEQ {
            let Ok(text) = text_of(value) else {
                return Ok(None);
            };
            texts[i] = text;
        }
    }
    let Some(moment) = texts[TIMESTAMP].and_then(event_time) else {
        return Ok(None);
    };
    let current_hash = hex_sha256(&hash_input(&texts, seq_value));
    let ambiguous = texts[SIGNATURE].is_some_and(|s| !s.is_empty())
        && matches!(texts[SIGNATURE_FORMAT], None | Some("") | Some("v1"))
        && V1_TEXT_FIELDS
            .iter()
            .any(|&i| texts[i].is_some_and(|s| s.contains('|')));
    let (y, mo, d, h, mi, s, us) = moment;
    let utc = timezone_utc(py);
    let event_time = PyDateTime::new(py, y, mo, d, h, mi, s, us, Some(&utc))?;

    values.push(PyString::new(py, &current_hash).into_any());
    let record = PyDict::new(py);
    for (name, value) in record_keys(py).iter().zip(&values) {
        record.set_item(name.bind(py), value)?;
    }
    debug_assert_eq!(values.len(), CURRENT_HASH + 1);
    values.extend([
        event_time.into_any(),
        topic,
        partition,
        offset,
        commit_seq,
        attestation,
        unattested_claim,
    ]);
    values.push(PyBool::new(py, ambiguous).to_owned().into_any());
    Ok(Some((record, PyTuple::new(py, values)?)))
}

fn push_copy_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// `value` if it is exactly a datetime in timezone.utc (what `event_time_of` returns).
fn utc_datetime<'py>(value: &Bound<'py, PyAny>) -> Option<Bound<'py, PyDateTime>> {
    let moment = value.downcast_exact::<PyDateTime>().ok()?;
    let utc = timezone_utc(value.py());
    moment
        .get_tzinfo()
        .is_some_and(|tz| tz.is(&utc))
        .then(|| moment.clone())
}

/// `str(moment)` for a datetime in timezone.utc: "YYYY-MM-DD HH:MM:SS[.ffffff]+00:00".
fn push_utc_datetime(out: &mut Vec<u8>, moment: &Bound<'_, PyDateTime>) {
    let mut text = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        moment.get_year(),
        moment.get_month(),
        moment.get_day(),
        moment.get_hour(),
        moment.get_minute(),
        moment.get_second(),
    );
    if moment.get_microsecond() != 0 {
        text.push_str(&format!(".{:06}", moment.get_microsecond()));
    }
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"+00:00");
}

fn push_copy_value(out: &mut Vec<u8>, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if value.is_none() {
        out.extend_from_slice(b"\\N");
    } else if let Ok(text) = value.downcast::<PyString>() {
        push_copy_str(out, text.to_str()?);
    } else if let Some(moment) = utc_datetime(value) {
        push_utc_datetime(out, &moment);
    } else if value.is_exact_instance_of::<PyBool>() {
        out.extend_from_slice(if value.is_truthy()? {
            b"True"
        } else {
            b"False"
        });
    } else if let Some(n) = value
        .is_exact_instance_of::<PyInt>()
        .then(|| value.extract::<i64>().ok())
        .flatten()
    {
        out.extend_from_slice(n.to_string().as_bytes());
    } else {
        out.extend_from_slice(value.str()?.to_str()?.as_bytes());
    }
    Ok(())
}

/// processor.store `_copy_text(rows)` encoded as UTF-8: None as \N, other non-strings by `str`,
/// strings with backslash, tab, newline and CR escaped; one line per row.
#[pyfunction]
fn copy_text<'py>(py: Python<'py>, rows: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    for row in rows.try_iter()? {
        let row = row?;
        let mut first = true;
        let mut push = |value: &Bound<'_, PyAny>| -> PyResult<()> {
            if !first {
                out.push(b'\t');
            }
            first = false;
            push_copy_value(&mut out, value)
        };
        if let Ok(tuple) = row.downcast::<PyTuple>() {
            for value in tuple.iter() {
                push(&value)?;
            }
        } else if let Ok(list) = row.downcast::<PyList>() {
            for value in list.iter() {
                push(&value)?;
            }
        } else {
            for value in row.try_iter()? {
                push(&value?)?;
            }
        }
        out.push(b'\n');
    }
    Ok(PyBytes::new(py, &out))
}

/// argus_spec.receipt ATTESTATION_CONTEXT, BATCH_CONTEXT and BATCH_PREFIX.
const ATTESTATION_CONTEXT: &[u8] = b"argus.attestation.v1\n";
const BATCH_CONTEXT: &[u8] = b"argus.attestation.v2\n";
const BATCH_PREFIX: &str = "v2:";
/// A v2 attestation's key hash and Ed25519 signature, then its tree size and leaf index; at most
/// MAX_PATH hashes follow (argus_spec.receipt `_SIGNATURE_SIZE`, `_HEAD_SIZE`, MAX_PATH).
const SIGNATURE_SIZE: usize = 68;
const HEAD_SIZE: usize = 76;
const MAX_PATH: usize = 32;
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding, as binascii.b2a_base64(newline=False) writes it.
fn b64_encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                B64[(n >> (18 - 6 * i) & 63) as usize]
            } else {
                b'='
            });
        }
    }
    out
}

/// The bytes `text` is the canonical base64 of, or None. Decoding is lenient about padding and
/// trailing bits; the caller accepts only what encodes back to `text` exactly, which is what the
/// reference's strict decode followed by its canonical re-encoding check accepts.
fn b64_decode(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() & 3 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut n, mut bits) = (0u32, 0u32);
    for &c in text.iter().take_while(|&&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        n = n << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((n >> bits) as u8);
            n &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// argus_spec.merkle `root_from_inclusion` (RFC 9162 2.1.3.2), None where it raises ProofError.
fn root_from_inclusion(index: u64, size: u64, leaf: [u8; 32], path: &[u8]) -> Option<[u8; 32]> {
    if index >= size {
        return None;
    }
    let (mut fn_, mut sn, mut result) = (index, size - 1, leaf);
    for sibling in path.chunks(32) {
        if sn == 0 {
            return None;
        }
        let mut hasher = Sha256::new();
        hasher.update([1u8]);
        if fn_ & 1 == 1 || fn_ == sn {
            hasher.update(sibling);
            hasher.update(result);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            hasher.update(result);
            hasher.update(sibling);
        }
        result = hasher.finalize().into();
        fn_ >>= 1;
        sn >>= 1;
    }
    (sn == 0).then_some(result)
}

/// A v2 attestation's signature (key hash || Ed25519, 68 bytes) and the bytes it must sign for
/// this event's statement: argus_spec.receipt `BatchSignature.parse(attestation)` with its
/// `.signature` and `.signed_bytes(attestation_bytes(record_id, content_hash, source, received_at))`.
/// None for anything else: an argument that is not exactly a str (source: or None), a lone
/// surrogate, an attestation the reference would refuse. The caller then runs the reference,
/// which accepts or refuses exactly as before.
#[pyfunction]
fn batch_message<'py>(
    py: Python<'py>,
    attestation: &Bound<'py, PyAny>,
    record_id: &Bound<'py, PyAny>,
    content_hash: &Bound<'py, PyAny>,
    source: &Bound<'py, PyAny>,
    received_at: &Bound<'py, PyAny>,
) -> Option<(Bound<'py, PyBytes>, Bound<'py, PyBytes>)> {
    let attestation = text_of(attestation).ok()??;
    let record_id = text_of(record_id).ok()??;
    let content_hash = text_of(content_hash).ok()??;
    let received_at = text_of(received_at).ok()??;
    let source = text_of(source).ok()?;
    let encoded = attestation.strip_prefix(BATCH_PREFIX)?.as_bytes();
    let raw = b64_decode(encoded)?;
    let hashes = raw.len().checked_sub(HEAD_SIZE)?;
    if hashes & 31 != 0 || hashes / 32 > MAX_PATH {
        return None;
    }
    if b64_encode(&raw) != encoded {
        return None;
    }
    let size = u32::from_be_bytes(raw[68..72].try_into().ok()?) as u64;
    let index = u32::from_be_bytes(raw[72..76].try_into().ok()?) as u64;
    let mut leaf = Sha256::new();
    leaf.update([0u8]);
    leaf.update(ATTESTATION_CONTEXT);
    let mut statement = Vec::with_capacity(256);
    statement.extend_from_slice(b"{\"contentHash\":");
    push_json_str(&mut statement, content_hash);
    statement.extend_from_slice(b",\"id\":");
    push_json_str(&mut statement, record_id);
    statement.extend_from_slice(b",\"receivedAt\":");
    push_json_str(&mut statement, received_at);
    statement.extend_from_slice(b",\"source\":");
    match source {
        Some(text) => push_json_str(&mut statement, text),
        None => statement.extend_from_slice(b"null"),
    }
    statement.push(b'}');
    leaf.update(&statement);
    let root = root_from_inclusion(index, size, leaf.finalize().into(), &raw[HEAD_SIZE..])?;
    let mut message = Vec::with_capacity(BATCH_CONTEXT.len() + 100);
    message.extend_from_slice(BATCH_CONTEXT);
    message.extend_from_slice(b"{\"rootHash\":\"");
    for b in root {
        message.push(b"0123456789abcdef"[(b >> 4) as usize]);
        message.push(b"0123456789abcdef"[(b & 15) as usize]);
    }
    message.extend_from_slice(format!("\",\"treeSize\":{size}}}").as_bytes());
    Some((
        PyBytes::new(py, &raw[..SIGNATURE_SIZE]),
        PyBytes::new(py, &message),
    ))
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(chain_row, module)?)?;
    module.add_function(wrap_pyfunction!(copy_text, module)?)?;
    module.add_function(wrap_pyfunction!(batch_message, module)?)?;
    Ok(())
}
