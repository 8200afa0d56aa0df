"""The OpenAPI document: every operation's responses, both security schemes, examples."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import pytest_asyncio

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROTECTED = {
    ("get", "/api/v1/users/me"): {"200", "401"},
    ("patch", "/api/v1/users/me"): {"200", "401", "409", "413", "415", "422"},
    ("post", "/api/v1/users/me/password"): {"204", "400", "401", "413", "415", "422", "429", "503"},
    ("delete", "/api/v1/users/me"): {"204", "401"},
    ("get", "/api/v1/users"): {"200", "401", "403", "422"},
    ("get", "/api/v1/users/{user_id}"): {"200", "401", "404", "422"},
    ("patch", "/api/v1/users/{user_id}"): {"200", "401", "403", "404", "413", "415", "422"},
    ("delete", "/api/v1/users/{user_id}"): {"204", "401", "403", "404", "422"},
    ("post", "/api/v1/auth/logout"): {"204", "401", "413", "415", "422"},
    ("post", "/api/v1/items"): {"201", "401", "413", "415", "422"},
    ("get", "/api/v1/items"): {"200", "401", "422"},
    ("get", "/api/v1/items/{item_id}"): {"200", "304", "401", "404", "422"},
    ("patch", "/api/v1/items/{item_id}"): {"200", "401", "404", "412", "413", "415", "422"},
    ("delete", "/api/v1/items/{item_id}"): {"204", "401", "404", "412", "422"},
    ("post", "/api/v2/items"): {"201", "401", "413", "415", "422"},
    ("get", "/api/v2/items"): {"200", "401", "422"},
    ("get", "/api/v2/items/{item_id}"): {"200", "304", "401", "404", "422"},
    ("patch", "/api/v2/items/{item_id}"): {"200", "401", "404", "412", "413", "415", "422"},
    ("delete", "/api/v2/items/{item_id}"): {"204", "401", "404", "412", "422"},
}
PUBLIC = {
    ("post", "/api/v1/auth/register"): {"201", "409", "413", "415", "422", "429", "503"},
    ("post", "/api/v1/auth/token"): {"200", "400", "413", "429", "503"},
    ("post", "/api/v1/auth/refresh"): {"200", "400", "413", "415", "422"},
    ("post", "/api/v1/auth/password-recovery"): {"202", "413", "415", "422", "429"},
    ("post", "/api/v1/auth/password-reset"): {"204", "400", "413", "415", "422", "503"},
    ("get", "/health/live"): {"200"},
    ("get", "/health/ready"): {"200", "503"},
}


@pytest.fixture(scope="module")
def backend() -> str:
    return "sqlite"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def schema(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def test_documents_both_security_schemes(schema: dict[str, Any]):
    schemes = schema["components"]["securitySchemes"]

    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == (
        "/api/v1/auth/token"
    )
    assert (schemes["HTTPBearer"]["type"], schemes["HTTPBearer"]["scheme"]) == ("http", "bearer")


@pytest.mark.parametrize(("method", "path"), list(PROTECTED))
async def test_documents_every_response_and_security_of_a_protected_operation(
    schema: dict[str, Any], method: str, path: str
):
    operation = schema["paths"][path][method]

    assert set(operation["responses"]) == PROTECTED[method, path]
    assert {name for option in operation["security"] for name in option} == {
        "OAuth2PasswordBearer",
        "HTTPBearer",
    }


@pytest.mark.parametrize(("method", "path"), list(PUBLIC))
async def test_documents_every_response_of_a_public_operation(
    schema: dict[str, Any], method: str, path: str
):
    operation = schema["paths"][path][method]

    assert set(operation["responses"]) == PUBLIC[method, path]
    assert "security" not in operation


async def test_documents_problems_as_problem_json_except_at_the_token_endpoint(
    schema: dict[str, Any],
):
    item = schema["paths"]["/api/v1/items/{item_id}"]["patch"]["responses"]
    token = schema["paths"]["/api/v1/auth/token"]["post"]

    assert list(item["412"]["content"]) == ["application/problem+json"]
    assert item["422"]["content"]["application/problem+json"]["schema"]["$ref"].endswith(
        "/ValidationProblem"
    )
    assert list(token["responses"]["400"]["content"]) == ["application/json"]
    assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
    refresh = schema["paths"]["/api/v1/auth/refresh"]["post"]["responses"]
    assert refresh["400"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/OAuthErrorOut"
    )


async def test_documents_both_grants_of_the_token_endpoint(schema: dict[str, Any]):
    form = schema["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"
    ]["schema"]

    assert set(form["properties"]["grant_type"]["enum"]) == {"password", "refresh_token"}
    assert {"username", "password", "refresh_token"} <= set(form["properties"])


async def test_documents_that_patch_fields_may_be_omitted_but_never_null(
    schema: dict[str, Any],
):
    schemas = schema["components"]["schemas"]

    for name, fields in (
        ("ProfilePatch", ("full_name", "email")),
        ("UserAdminPatch", ("full_name", "is_active", "is_superuser")),
    ):
        for field in fields:
            prop = schemas[name]["properties"][field]
            assert "anyOf" not in prop and "default" not in prop, (name, field)


async def test_documents_examples_and_never_a_password_hash(schema: dict[str, Any]):
    schemas = schema["components"]["schemas"]

    bodies = ["RegisterIn", "ItemCreate", "ProfilePatch", "PasswordChangeIn", "UserAdminPatch"]
    bodies += ["RefreshIn", "LogoutIn", "RecoveryIn", "ResetIn"]
    for name in ("UserOut", "ItemOut", "TokenOut", "OAuthErrorOut", *bodies):
        assert schemas[name]["examples"], name
    assert "hashed_password" not in str(schema)
    for name in bodies:
        assert schemas[name]["additionalProperties"] is False, name


async def test_documents_that_an_item_title_may_be_omitted_but_never_null(
    schema: dict[str, Any],
):
    title = schema["components"]["schemas"]["ItemPatch"]["properties"]["title"]

    assert title["type"] == "string" and "anyOf" not in title and "default" not in title


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_serves_the_interactive_docs(client: httpx.AsyncClient, path: str):
    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_operation_ids_are_readable_unique_and_stable(schema: dict[str, Any]):
    ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*\.[a-z][A-Za-z0-9]*", i) for i in ids), ids
    by_path = {
        (m, p): op["operationId"] for p, ops in schema["paths"].items() for m, op in ops.items()
    }
    assert by_path[("post", "/api/v1/auth/register")] == "auth.register"
    assert by_path[("get", "/api/v2/items/{item_id}")] == "itemsV2.get"


async def test_documents_the_headers_clients_receive(schema: dict[str, Any]):
    for ops in schema["paths"].values():
        for op in ops.values():
            responses = op["responses"]
            if "401" in responses:
                assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
            for status in ("429", "503"):
                if status in responses:
                    assert responses[status]["headers"]["Retry-After"]["required"] is True
            if "requestBody" in op:
                assert "413" in responses, op["operationId"]
    created = schema["paths"]["/api/v1/items"]["post"]["responses"]["201"]["headers"]
    assert created["Location"]["required"] is True and created["ETag"]["required"] is True


async def test_an_optional_body_is_the_bodys_schema_not_a_union_with_null(schema):
    body = schema["paths"]["/api/v1/auth/logout"]["post"]["requestBody"]
    assert body["required"] is False
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LogoutIn"
    }


async def test_each_error_status_has_an_example_of_its_own(schema: dict[str, Any]):
    responses = schema["paths"]["/api/v1/items/{item_id}"]["patch"]["responses"]
    examples = {
        s: r["content"]["application/problem+json"]["example"]
        for s, r in responses.items()
        if s[0] in "45"
    }
    assert {s: e["status"] for s, e in examples.items()} == {s: int(s) for s in examples}
    assert "errors" in examples["422"]


async def test_examples_show_every_field_and_the_token_form_is_prefilled(schema):
    components = schema["components"]["schemas"]
    assert components["ItemOut"]["examples"][0]["description"] is not None
    assert components["ItemPatch"]["examples"][0]
    token = schema["paths"]["/api/v1/auth/token"]["post"]["requestBody"]["content"]
    form = token["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert form["username"]["examples"] == ["ada@example.com"]
    assert form["grant_type"]["examples"] == ["password"]


async def test_links_lead_from_what_a_response_names_to_its_operations(schema: dict[str, Any]):
    created = schema["paths"]["/api/v1/items"]["post"]["responses"]["201"]["links"]
    assert created["get"] == {
        "operationId": "items.getItem",
        "parameters": {"item_id": "$response.body#/id"},
    }
    assert created["update"]["parameters"]["header.if-match"] == "$response.header.ETag"
    register = schema["paths"]["/api/v1/auth/register"]["post"]["responses"]["201"]["links"]
    assert register["get"]["operationId"] == "users.read"
    upload = schema["paths"]["/api/v1/items/{item_id}/attachments"]["post"]["responses"]["201"]
    assert upload["links"]["download"]["operationId"] == "attachments.download"


async def test_declares_415_for_json_bodies_and_the_etag_of_a_304(schema: dict[str, Any]):
    assert "415" in schema["paths"]["/api/v1/items"]["post"]["responses"]
    assert "415" in schema["paths"]["/api/v1/auth/register"]["post"]["responses"]
    not_modified = schema["paths"]["/api/v1/items/{item_id}"]["get"]["responses"]["304"]
    assert "ETag" in not_modified["headers"]


async def test_optional_parameters_are_plain_types_and_422_always_lists_errors(schema):
    for ops in schema["paths"].values():
        for op in ops.values():
            for parameter in op.get("parameters", []):
                assert "anyOf" not in parameter["schema"], (op["operationId"], parameter["name"])
    problem = schema["components"]["schemas"]["ValidationProblem"]
    assert "errors" in problem["required"] and problem["properties"]["errors"]["minItems"] == 1
