"""Access tokens under attack (RFC 8725): every forgery, misuse and stale token is a 401.

Forged tokens are signed here with PyJWT and the app's real secret, so each is refused for the
one thing wrong with it: a token crafted the same way with nothing wrong is accepted (the
control test below), which keeps these tests able to fail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrypoints.container import Container
from tests.http.conftest import bearer, grant_tokens

pytestmark = pytest.mark.asyncio(loop_scope="module")

ME = "/api/v1/users/me"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
INVALID_TOKEN = 'Bearer error="invalid_token"'
DROP = object()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class Forger:
    """Makes access tokens with the app's own secret, issuer and audience, to order."""

    def __init__(self, container: Container) -> None:
        settings = container.settings()
        self.secret = settings.secret_key
        self.issuer, self.audience = settings.jwt_issuer, settings.jwt_audience

    def claims(self, user_id: str, **changes: Any) -> dict[str, Any]:
        """Valid claims for the user, with `changes` applied (`DROP` removes a claim)."""
        now = time.time()
        claims = {
            "sub": user_id,
            "iat": now,
            "nbf": int(now),
            "exp": int(now) + 600,
            "jti": uuid.uuid4().hex,
            "iss": self.issuer,
            "aud": self.audience,
            "typ": "access",
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not DROP}

    def sign(
        self, claims: dict[str, Any], algorithm: str = "HS256", typ: str | None = "at+jwt"
    ) -> str:
        headers = {} if typ is None else {"typ": typ}
        return jwt.encode(claims, self.secret, algorithm=algorithm, headers=headers)

    def hmac_under_header(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        """HMAC-SHA256 with the secret under any header (e.g. the RS256 key-confusion attack)."""
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = hmac.new(self.secret.encode(), signing_input.encode(), hashlib.sha256)
        return f"{signing_input}.{_b64(signature.digest())}"


@pytest.fixture(scope="module")
def forger(container: Container) -> Forger:
    return Forger(container)


async def _assert_rejected(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get(ME, headers=bearer(token))

    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == INVALID_TOKEN
    assert response.headers["content-type"] == "application/problem+json"


# --- the control: the forger makes tokens the app accepts -------------------------------------


async def test_accepts_a_token_crafted_with_the_real_secret_and_every_claim(
    client: httpx.AsyncClient, forger: Forger, alice
):
    token = forger.sign(forger.claims(alice.id))

    response = await client.get(ME, headers=bearer(token))

    assert response.status_code == 200
    assert response.json()["id"] == alice.id


# --- algorithms -------------------------------------------------------------------------------


async def test_rejects_an_unsigned_token_with_alg_none(
    client: httpx.AsyncClient, forger: Forger, alice
):
    token = jwt.encode(forger.claims(alice.id), None, algorithm="none", headers={"typ": "at+jwt"})

    await _assert_rejected(client, token)


async def test_rejects_alg_none_with_the_signature_of_a_real_token(
    client: httpx.AsyncClient, forger: Forger, alice
):
    real = forger.sign(forger.claims(alice.id))
    header = _b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    _, payload, signature = real.split(".")

    await _assert_rejected(client, f"{header}.{payload}.{signature}")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_rejects_hs512_even_when_signed_with_the_real_secret(
    client: httpx.AsyncClient, forger: Forger, alice
):
    await _assert_rejected(client, forger.sign(forger.claims(alice.id), algorithm="HS512"))


async def test_rejects_an_rs256_header_over_an_hmac_of_the_secret(
    client: httpx.AsyncClient, forger: Forger, alice
):
    token = forger.hmac_under_header({"alg": "RS256", "typ": "at+jwt"}, forger.claims(alice.id))

    await _assert_rejected(client, token)


async def test_rejects_an_rs256_token_signed_with_a_key_of_its_own(
    client: httpx.AsyncClient, forger: Forger, alice
):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(forger.claims(alice.id), key, algorithm="RS256", headers={"typ": "at+jwt"})

    await _assert_rejected(client, token)


async def test_rejects_a_token_signed_with_another_secret(
    client: httpx.AsyncClient, forger: Forger, alice
):
    token = jwt.encode(forger.claims(alice.id), "not-the-secret-" * 3, algorithm="HS256")

    await _assert_rejected(client, token)


# --- signature and claims ---------------------------------------------------------------------


@pytest.mark.parametrize("claim", ["sub", "exp"])
async def test_rejects_a_real_token_whose_payload_was_changed(
    client: httpx.AsyncClient, alice, bob, claim: str
):
    header, payload, signature = alice.headers["Authorization"].split(" ")[1].split(".")
    claims = json.loads(_unb64(payload))
    claims[claim] = bob.id if claim == "sub" else claims["exp"] + 86_400
    tampered = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"

    await _assert_rejected(client, tampered)


@pytest.mark.parametrize("claim", ["exp", "sub", "jti", "typ", "iat", "nbf", "iss", "aud"])
async def test_rejects_a_token_missing_a_required_claim(
    client: httpx.AsyncClient, forger: Forger, alice, claim: str
):
    await _assert_rejected(client, forger.sign(forger.claims(alice.id, **{claim: DROP})))


@pytest.mark.parametrize(
    "changes",
    [
        {"nbf": int(time.time()) + 3600},
        {"iat": time.time() + 3600},  # "issued" after a revocation instant, it would outlive it
        {"exp": int(time.time()) - 1},
        {"iss": "someone-else"},
        {"aud": "another-api"},
        {"typ": "refresh"},
        {"sub": "not-a-uuid"},
        {"jti": ""},
        {"jti": 42},
    ],
    ids=[
        "future-nbf",
        "future-iat",
        "expired",
        "wrong-iss",
        "wrong-aud",
        "typ-refresh",
        "sub",
        "jti",
        "jti-int",
    ],
)
async def test_rejects_a_token_with_a_bad_claim(
    client: httpx.AsyncClient, forger: Forger, alice, changes: dict[str, Any]
):
    await _assert_rejected(client, forger.sign(forger.claims(alice.id, **changes)))


@pytest.mark.parametrize("typ", [None, "JWT", "at+JWT"])
async def test_rejects_a_token_without_the_access_token_header_type(
    client: httpx.AsyncClient, forger: Forger, alice, typ: str | None
):
    await _assert_rejected(client, forger.sign(forger.claims(alice.id), typ=typ))


# --- the wrong kind of token ------------------------------------------------------------------


async def test_rejects_a_refresh_token_used_as_a_bearer_token(client: httpx.AsyncClient, alice):
    tokens = await grant_tokens(client, alice.email)

    await _assert_rejected(client, tokens["refresh_token"])


async def test_refuses_an_access_token_as_a_refresh_token_at_both_endpoints(
    client: httpx.AsyncClient, alice
):
    access = (await grant_tokens(client, alice.email))["access_token"]

    at_token = await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": access}
    )
    at_refresh = await client.post(REFRESH, json={"refresh_token": access})

    for response in (at_token, at_refresh):
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"
    assert (await client.get(ME, headers=bearer(access))).status_code == 200


# --- tokens of accounts that changed ----------------------------------------------------------


async def test_rejects_the_token_of_a_deleted_user(client: httpx.AsyncClient, new_account):
    account = await new_account()
    assert (await client.get(ME, headers=account.headers)).status_code == 200

    assert (await client.delete(ME, headers=account.headers)).status_code == 204

    await _assert_rejected(client, account.headers["Authorization"].split(" ")[1])


async def test_rejects_the_token_of_a_deactivated_user(
    client: httpx.AsyncClient, new_account, admin
):
    account = await new_account()
    assert (await client.get(ME, headers=account.headers)).status_code == 200

    deactivated = await client.patch(
        f"/api/v1/users/{account.id}", json={"is_active": False}, headers=admin.headers
    )

    assert deactivated.status_code == 200
    await _assert_rejected(client, account.headers["Authorization"].split(" ")[1])


async def test_rejects_a_crafted_token_of_a_user_that_never_existed(
    client: httpx.AsyncClient, forger: Forger
):
    await _assert_rejected(client, forger.sign(forger.claims(str(uuid.uuid4()))))


# --- malformed Authorization headers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "challenge"),
    [
        ("Bearer", "Bearer"),
        ("Bearer  ", "Bearer"),
        ("Basic x", "Bearer"),
        ("Basic dXNlcjpwYXNz", "Bearer"),
        ("bearer x y", INVALID_TOKEN),
        ("Bearer x.y.z", INVALID_TOKEN),
    ],
)
async def test_answers_a_malformed_authorization_header_with_401_and_a_bearer_challenge(
    client: httpx.AsyncClient, value: str, challenge: str
):
    response = await client.get(ME, headers={"Authorization": value})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge


# --- properties -------------------------------------------------------------------------------

_B64URL = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=80)
_JSON_OBJECTS = st.dictionaries(
    st.sampled_from(["alg", "typ", "sub", "exp", "nbf", "iat", "jti", "iss", "aud", "kid"]),
    st.one_of(st.none(), st.integers(), st.text(max_size=20), st.sampled_from(["none", "HS256"])),
)
_QUICK = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_QUICK
@given(
    segments=st.one_of(
        st.lists(_B64URL, min_size=1, max_size=5).map(".".join),
        st.tuples(_JSON_OBJECTS, _JSON_OBJECTS, _B64URL).map(
            lambda parts: ".".join(
                [_b64(json.dumps(parts[0]).encode()), _b64(json.dumps(parts[1]).encode()), parts[2]]
            )
        ),
    )
)
async def test_never_accepts_a_jwt_shaped_string_and_never_fails_on_one(
    client: httpx.AsyncClient, segments: str
):
    response = await client.get(ME, headers=bearer(segments or "x"))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == INVALID_TOKEN


@_QUICK
@given(data=st.data())
async def test_never_accepts_a_real_token_with_one_character_changed(
    client: httpx.AsyncClient, alice, data: st.DataObject
):
    token = alice.headers["Authorization"].split(" ")[1]
    # Not the last character of a segment: its low bits may be padding that decodes the same.
    positions = [
        i for i, c in enumerate(token) if c != "." and token[i + 1 : i + 2] not in ("", ".")
    ]
    position = data.draw(st.sampled_from(positions))
    replacement = data.draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_").filter(
            lambda c: c != token[position]
        )
    )
    changed = token[:position] + replacement + token[position + 1 :]

    response = await client.get(ME, headers=bearer(changed))

    assert response.status_code == 401


# --- NumericDate claims (RFC 7519 §2): JSON numbers only, and none a datetime cannot hold ------

_NOT_NUMERIC_DATES = {
    "1e20": 1e20,
    "10**30": 10**30,
    "10**400": 10**400,
    "-1e20": -1e20,
    "nan": float("nan"),
    "infinity": float("inf"),
    "-infinity": float("-inf"),
    "string-inf": "inf",
    "string-nan": "nan",
    "numeric-string": str(int(time.time()) + 600),
    "true": True,
    "null": None,
    "list": [int(time.time()) + 600],
    "object": {"seconds": int(time.time()) + 600},
}


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", list(_NOT_NUMERIC_DATES.values()), ids=list(_NOT_NUMERIC_DATES))
async def test_rejects_a_signed_token_whose_time_claim_is_not_a_numeric_date(
    client: httpx.AsyncClient, forger: Forger, alice, claim: str, value: object
):
    await _assert_rejected(client, forger.sign(forger.claims(alice.id, **{claim: value})))


async def test_accepts_time_claims_that_are_fractional_json_numbers(
    client: httpx.AsyncClient, forger: Forger, alice
):
    now = time.time()
    token = forger.sign(forger.claims(alice.id, iat=now, nbf=now - 0.5, exp=now + 600.25))

    assert (await client.get(ME, headers=bearer(token))).status_code == 200


_CLAIM_VALUES = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)


@_QUICK
@given(claim=st.sampled_from(["exp", "iat", "nbf"]), value=_CLAIM_VALUES)
async def test_any_value_of_a_time_claim_is_answered_200_or_401_and_never_a_500(
    client: httpx.AsyncClient, forger: Forger, alice, claim: str, value: object
):
    response = await client.get(
        ME, headers=bearer(forger.sign(forger.claims(alice.id, **{claim: value})))
    )

    assert response.status_code in (200, 401), response.text
    if response.status_code == 401:
        assert response.headers["www-authenticate"] == INVALID_TOKEN
    if isinstance(value, str | bool | list) or value is None:
        assert response.status_code == 401, f"{claim}={value!r} was accepted"
