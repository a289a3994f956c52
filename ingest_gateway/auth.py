"""Bearer-token authentication: constant-time, fail-closed, and the token's name becomes the event's source."""

from __future__ import annotations

import hashlib
import hmac

from argus.runtime.settings import Token

BEARER = "bearer "


def authenticate(header: str | None, tokens: tuple[Token, ...]) -> Token | None:
    """Return the token the Authorization header carries, or None.

    Compares SHA-256 digests with hmac.compare_digest against *every* configured token, so
    the time taken does not reveal which token (or how much of one) matched. With no tokens
    configured nothing authenticates: the gateway fails closed. aiohttp hands over bytes that
    are not UTF-8 as surrogates; hashing them as those bytes makes such a header a 401, not a 500.
    """
    if not header or not tokens or header[: len(BEARER)].lower() != BEARER:
        return None
    digest = hashlib.sha256(header[len(BEARER) :].strip().encode("utf-8", "surrogateescape")).digest()
    found: Token | None = None
    for token in tokens:
        if hmac.compare_digest(digest, token.digest):
            found = token
    return found
