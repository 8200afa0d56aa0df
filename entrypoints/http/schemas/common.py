"""Shared pieces of the request and response bodies: strict input, problems, health."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from domain.errors import DomainError

USER_ID_EXAMPLE = "0193a5c2-7f3e-7c11-9a2b-1f2e3d4c5b6a"
ITEM_ID_EXAMPLE = "0193a5c4-01b2-7d4e-8f60-5a4b3c2d1e0f"
TIMESTAMP_EXAMPLE = "2026-11-24T21:05:03.123456Z"
SECRET: dict[str, Any] = {"format": "password", "writeOnly": True}
"""The schema hints of a secret input (a password, a token)."""


NO_NUL = r"^[^\x00]*$"
"""The schema's pattern for free text: any text but NUL (a lone surrogate is refused too)."""
NOT_BLANK_NO_NUL = r"^[^\x00]*[^\s\x00][^\x00]*$"
"""The schema's pattern for text that must not be blank either (an item's title)."""


def domain_rule(check: Callable[[str], object]) -> AfterValidator:
    """Apply a domain rule at the edge, so that breaking it is a 422 naming the field in
    `errors[]` (the use case applies it again: the domain stays the authority)."""

    def validate(value: str) -> str:
        try:
            check(value)
        except DomainError as exc:
            raise ValueError(str(exc)) from None
        return value

    return AfterValidator(validate)


def absent_is_not_null(schema: dict[str, Any]) -> None:
    """Drop the default from a field's schema: absent means "leave alone", not a value."""
    schema.pop("default", None)


class Input(BaseModel):
    """A request body: unknown fields are a 422 (no mass assignment)."""

    model_config = ConfigDict(extra="forbid")


class Patch(Input):
    """A partial update: only the fields the client sent are applied."""

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, with their values (an explicit null included)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class Problem(BaseModel):
    """An RFC 9457 problem detail (`application/problem+json`)."""

    type: str = Field(examples=["urn:portico:problem:not-found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["item not found"])


class FieldError(BaseModel):
    """Where a request was invalid and why (the rejected value is never echoed)."""

    loc: list[str | int] = Field(examples=[["body", "title"]])
    msg: str = Field(examples=["String should have at most 255 characters"])
    type: str = Field(examples=["string_too_long"])


class ValidationProblem(Problem):
    """A 422 problem that lists every invalid part of the request."""

    errors: list[FieldError] = Field(min_length=1)


class Health(BaseModel):
    """Whether the process (live) or its dependencies (ready) are fine."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "unavailable"]] | None = None
