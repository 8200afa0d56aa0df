"""How the schemathesis tests send a case and judge its answer: whose token goes with it, and
which failures are known bugs (recorded and reported) rather than news (raised)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from schemathesis import Case, Response
from schemathesis.core.failures import CustomFailure, Failure, FailureGroup

from tests.contract_http import contract_checks
from tests.contract_http.live import Account, LiveApi

SESSION_ENDING = {
    ("DELETE", "/api/v1/users/me"),
    ("POST", "/api/v1/users/me/password"),
    ("POST", "/api/v1/auth/logout"),
    ("PATCH", "/api/v1/users/me"),
}
"""Operations that end or change the caller's account or session: they get a user of their own."""
ADMIN_PATHS = ("/api/v1/users", "/api/v1/users/{user_id}")
HIDDEN_HEADERS = {"authorization", "user-agent", "accept-encoding", "accept", "connection"}
ANY = "*"

Key = tuple[str, str, int]
"""A failure's identity: the operation (`POST /api/v1/items`), the check, the response status.
In a list of known bugs, `*` stands for any operation and status 0 for any status."""


class Credentials:
    """Whose token goes with a case: a superuser's for the user administration, a user of
    its own for what ends or changes a session (kept until it is used up), otherwise the
    owner's (also sent to public operations, which must ignore it)."""

    def __init__(self, api: LiveApi) -> None:
        self.api, self.owner = api, api.user
        self.session: Account | None = None

    def new_owner(self) -> None:
        """From now on, cases run as a fresh user (a stateful scenario starts from nothing)."""
        self.owner = self.api.new_account("scenario")
        contract_checks.register_identities(
            self.api.url, self.owner.headers["Authorization"], self.api.peer.headers
        )

    def headers_for(self, case: Case[Any]) -> dict[str, str]:
        """The headers that authenticate `case` (aimed away from the accounts in use)."""
        method, path = case.operation.method.upper(), case.operation.path
        if (method, path) in SESSION_ENDING:
            if self.session is None:
                self.session = self.api.new_account("session")
            return self.session.headers
        if path in ADMIN_PATHS:
            self._spare_accounts_in_use(case)
            return self.api.admin.headers
        return self.owner.headers

    def used(self, case: Case[Any], response: Response) -> None:
        """Retire the session user once a case ended, changed or rate-limited it."""
        ending = (case.operation.method.upper(), case.operation.path) in SESSION_ENDING
        if ending and (response.status_code < 300 or response.status_code in (401, 429)):
            self.session = None

    def _spare_accounts_in_use(self, case: Case[Any]) -> None:
        """A superuser's change to an account the tests sign in with (schemathesis learns ids
        from earlier answers) is aimed at a fresh user instead."""
        in_use = {self.owner.id, self.api.user.id, self.api.peer.id, self.api.admin.id}
        parameters = case.path_parameters
        writes = case.operation.method.upper() != "GET"
        if writes and parameters is not None and str(parameters.get("user_id")) in in_use:
            parameters["user_id"] = self.api.new_account("target").id


def refresh_idempotency_key(case: Case[Any]) -> None:
    """A fresh `Idempotency-Key` for a case that sends a well-formed one: the server rightly
    answers 422 to a key reused for another request, and generated cases reuse the schema's
    example key with different bodies."""
    headers = case.headers
    key = headers.get("Idempotency-Key") if headers is not None else None
    if headers is not None and isinstance(key, str) and key.isascii() and key.isprintable():
        headers["Idempotency-Key"] = f'"{uuid.uuid4()}"'


def check_name(failure: Failure) -> str:
    """The name of the check that reported `failure`."""
    if isinstance(failure, CustomFailure):
        return failure.title.removeprefix("Custom check failed: ").strip("`")
    return type(failure).checks[0] if type(failure).checks else failure.code


def shown_request(response: Response) -> str:
    """The request that got `response`, in one line, without credentials."""
    request = response.request
    url = str(request.url)
    path = url[url.index("/", url.index("//") + 2) :]
    headers = {
        name: value
        for name, value in request.headers.items()
        if name.lower() not in HIDDEN_HEADERS and not name.lower().startswith("x-schemathesis")
    }
    body = request.body
    text = body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    shown = f"{request.method} {path}"
    if headers:
        shown += f" headers={headers}"
    if text:
        shown += f" body={text[:300]!r}"
    return shown


def shown_response(response: Response) -> str:
    """The response's status, type and the start of its body, in one line."""
    content_type = response.headers.get("content-type", [""])[0]
    body = response.content[:300].decode(errors="replace")
    return f"{response.status_code} {content_type} {body}".strip()


@dataclass(frozen=True)
class Finding:
    """One failure, with the shortest request seen that meets it."""

    key: Key
    request: str
    response: str
    message: str

    def __str__(self) -> str:
        operation, check, status = self.key
        why = " ".join(self.message.split())[:400]
        return (
            f"{operation} [{check}, {status}]\n    request:  {self.request}\n"
            f"    response: {self.response}\n    why:      {why}"
        )


@dataclass
class Findings:
    """Every failure one backend's schemathesis tests met: known bugs are kept, news raised."""

    known: Mapping[Key, str]
    found: dict[Key, Finding] = field(default_factory=dict)
    swept: set[str] = field(default_factory=set)

    def known_as(self, key: Key) -> Key | None:
        """The entry of the known bugs that covers `key`, if one does."""
        operation, check, status = key
        for candidate in ((operation, check, status), (ANY, check, status)):
            for entry in (candidate, (candidate[0], check, 0)):
                if entry in self.known:
                    return entry
        return None

    def met(self, entry: Key) -> list[Finding]:
        """The findings a known-bug entry covers."""
        return [finding for key, finding in self.found.items() if self.known_as(key) == entry]

    def judge(self, case: Case[Any], response: Response, failures: Sequence[Failure]) -> None:
        """Record each failure; raise those that are not known bugs."""
        news = []
        for failure in failures:
            key = (case.operation.label, check_name(failure), response.status_code)
            finding = Finding(key, shown_request(response), shown_response(response), str(failure))
            if key not in self.found or len(finding.request) < len(self.found[key].request):
                self.found[key] = finding
            if self.known_as(key) is None:
                news.append((failure, finding))
        if news:
            lines = "\n\n".join(str(finding) for _, finding in news)
            message = f"contract failures that are not known bugs:\n\n{lines}"
            raise FailureGroup([failure for failure, _ in news], message)

    def report(self) -> str:
        """Every failure met, one paragraph each."""
        return "\n\n".join(str(self.found[key]) for key in sorted(self.found))


FINDINGS_KEY = pytest.StashKey[list[tuple[str, Findings]]]()
"""Where each backend's findings are kept for the terminal summary."""


def known_bugs_met(stash: list[tuple[str, Findings]]) -> list[str]:
    """One paragraph per known bug still met: where (backend: operation, status) and the
    shortest request that meets it."""
    where: dict[str, list[str]] = {}
    example: dict[str, Finding] = {}
    for backend, findings in stash:
        for entry, reason in findings.known.items():
            for finding in findings.met(entry):
                operation, _, status = finding.key
                where.setdefault(reason, []).append(f"{backend}: {operation} {status}")
                shortest = example.get(reason)
                if shortest is None or len(finding.request) < len(shortest.request):
                    example[reason] = finding
    return [
        f"{reason}\n  met at {_some(places)}\n  e.g. {example[reason]}"
        for reason, places in where.items()
    ]


def _some(places: list[str], shown: int = 4) -> str:
    distinct = sorted(set(places))
    more = f" and {len(distinct) - shown} more" if len(distinct) > shown else ""
    return ", ".join(distinct[:shown]) + more


def call_kwargs(case: Case[Any], credentials: Credentials) -> dict[str, Any]:
    """What `case.call` needs to reach the live server with the case's credentials."""
    refresh_idempotency_key(case)
    headers = credentials.headers_for(case)
    return {"base_url": credentials.api.url, "headers": headers, "timeout": 15}


def judge(
    case: Case[Any],
    response: Response,
    sent: dict[str, Any],
    findings: Findings,
    credentials: Credentials,
    recorder: Any = None,
) -> None:
    """Run every check on the answer to `case`; raise what is not a known bug."""
    credentials.used(case, response)
    try:
        case.validate_response(
            response, headers=sent["headers"], transport_kwargs=sent, recorder=recorder
        )
    except FailureGroup as group:
        findings.judge(case, response, group.exceptions)
