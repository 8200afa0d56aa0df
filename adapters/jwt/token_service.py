"""Access tokens as HS256 JWTs (RFC 8725): algorithm pinned, every claim required, type checked."""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from application.errors import InvalidToken, TokenExpired
from application.ports.security import AccessClaims, IssuedToken

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
HEADER_TYPE = "at+jwt"  # RFC 9068 explicit typing, so no other JWT can pass for an access token
REQUIRED = ["exp", "iat", "nbf", "jti", "sub", "iss", "aud", "typ"]


MAX_REMEMBERED_TOKENS = 10_000
MAX_NUMERIC_DATE = 253_402_300_799  # 9999-12-31T23:59:59Z, the last second datetime holds
IAT_LEEWAY_SECONDS = 5.0
"""How far in the future `iat` may lie (clocks of the issuing hosts differ a little). A token
"issued" later than that would outlive a user-wide revocation made before its `iat`."""


class PyJwtTokenService:
    """Signs and verifies access tokens with one shared secret.

    Expiry and not-before are checked against the `now` the caller passes (the application's
    clock) rather than PyJWT's own reading of the system time, so tests can control time.

    A client sends the same token with every request for its whole lifetime, so the claims
    of a token whose signature and claims verified are remembered (exactly that string, a
    bounded number of them): later requests pay only for the time checks. Revocation is not
    this service's business; the denylist is asked on every request.
    """

    def __init__(self, *, secret: str, issuer: str, audience: str, ttl_seconds: int) -> None:
        self._key = secret.encode("utf-8")
        self._issuer, self._audience, self._ttl = issuer, audience, ttl_seconds
        self._jwt = jwt.PyJWT()
        self._verified: dict[str, tuple[AccessClaims, float]] = {}
        self._options = {
            "require": REQUIRED,
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
        }

    def issue_access(
        self, user_id: UUID, now: datetime, session_id: UUID | None = None
    ) -> IssuedToken:
        # iat keeps sub-second precision (a NumericDate may be fractional, RFC 7519 §2) so a
        # token minted just after a "revoke everything before now" is told apart from those
        # minted just before it.
        issued_at = round(now.timestamp(), 6)
        expires_at = int(issued_at) + self._ttl
        token_id = secrets.token_urlsafe(16)
        claims: dict[str, object] = {
            "sub": str(user_id),
            "iat": issued_at,
            "nbf": int(issued_at),
            "exp": expires_at,
            "jti": token_id,
            "iss": self._issuer,
            "aud": self._audience,
            "typ": ACCESS_TYPE,
        }
        if session_id is not None:
            claims["sid"] = str(session_id)
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"typ": HEADER_TYPE})
        return IssuedToken(token, token_id, _at(expires_at), self._ttl)

    def verify_access(self, token: str, now: datetime) -> AccessClaims:
        known = self._verified.get(token)
        if known is None:
            known = self._verify(token)
            if len(self._verified) >= MAX_REMEMBERED_TOKENS:
                self._verified.clear()
            self._verified[token] = known
        return _in_time(*known, now)

    def _verify(self, token: str) -> tuple[AccessClaims, float]:
        try:
            decoded = self._jwt.decode_complete(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options=self._options,  # type: ignore[arg-type]
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken("the access token is not valid") from exc
        header, claims = decoded["header"], decoded["payload"]
        if header.get("typ") != HEADER_TYPE or claims["typ"] != ACCESS_TYPE:
            raise InvalidToken("the token is not an access token")
        return _claims(claims)


def _claims(claims: dict[str, object]) -> tuple[AccessClaims, float]:
    """The access claims and the not-before moment, once the signature is verified."""
    try:
        user_id = UUID(str(claims["sub"]))
        exp, nbf, iat = (_numeric_date(claims[name]) for name in ("exp", "nbf", "iat"))
        token_id = claims["jti"]
        session_id = UUID(str(claims["sid"])) if "sid" in claims else None
        issued_at, expires_at = _at(iat), _at(exp)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidToken("the access token's claims are malformed") from exc
    if not isinstance(token_id, str) or not token_id:
        raise InvalidToken("the access token's id is malformed")
    return AccessClaims(user_id, token_id, issued_at, expires_at, session_id), nbf


def _numeric_date(value: object) -> float:
    """A NumericDate (RFC 7519 §2): a JSON number of seconds, finite and within datetime's
    range. A string, a boolean, NaN or an infinity is not one, whatever it spells."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("a NumericDate is a JSON number")
    seconds = float(value)  # OverflowError for an integer beyond any float
    if not math.isfinite(seconds) or abs(seconds) > MAX_NUMERIC_DATE:
        raise ValueError("a NumericDate is a finite number of seconds within 0001..9999")
    return seconds


def _in_time(claims: AccessClaims, not_before: float, now: datetime) -> AccessClaims:
    if now >= claims.expires_at:
        raise TokenExpired("the access token has expired")
    if now.timestamp() < not_before:
        raise InvalidToken("the access token is not valid yet")
    if claims.issued_at.timestamp() > now.timestamp() + IAT_LEEWAY_SECONDS:
        raise InvalidToken("the access token was issued in the future")
    return claims


def _at(timestamp: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=timestamp)
