"""compose.yaml, checked without a Docker engine.

Against the Compose Specification's JSON schema (vendored beside this file: see README.md
here), by check-jsonschema and in-process; then what the stack promises: five services, health
checks where something answers, start-up ordering on health and on a finished migration, each
service running its `portico` subcommand, shared uploads, and no secret with a default.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator

from entrypoints.cli import _parser as portico_parser
from entrypoints.settings import Settings
from tests.deploy.deployfiles import (
    COMPOSE_FILE,
    MissingVariable,
    environment_of,
    interpolate,
    interpolated,
    placeholders,
    read_compose,
    read_dockerfile,
    strings,
)

HERE = Path(__file__).resolve().parent
SCHEMA_FILE = HERE / "compose-spec.json"
PORTICO_SERVICES = ("migrate", "api", "worker")
SECRETS = {
    "SECRET_KEY": "k" * 64,
    "POSTGRES_PASSWORD": "Zx-9_only-url-safe-characters",
}
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|_KEY$|CREDENTIAL", re.I)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return read_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text())


def _schema_errors(document: object) -> list[str]:
    validator = Draft202012Validator(_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


# ---------------------------------------------------------------------------------------------
# The Compose Specification
# ---------------------------------------------------------------------------------------------
def test_the_vendored_schema_is_the_file_its_readme_names() -> None:
    readme = (HERE / "README.md").read_text()
    recorded = re.search(r"sha256 `([0-9a-f]{64})`", readme)
    assert recorded is not None
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == recorded.group(1)
    assert _schema()["title"] == "Compose Specification"
    assert (HERE / "compose-spec.LICENSE").read_text().lstrip().startswith("Apache License")


def test_the_compose_file_is_valid_under_the_compose_specification(
    compose: dict[str, Any],
) -> None:
    assert _schema_errors(compose) == []


def test_check_jsonschema_accepts_the_compose_file() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--schemafile",
            str(SCHEMA_FILE),
            str(COMPOSE_FILE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c["services"]["api"]["depends_on"]["migrate"].update(
                condition="service_finished"
            ),
            "service_finished",
        ),
        (lambda c: c["services"]["api"].update(healtcheck={"test": ["NONE"]}), "healtcheck"),
        (lambda c: c["services"]["worker"].update(restart=["always"]), "restart"),
    ],
    ids=["unknown-condition", "misspelt-key", "wrong-type"],
)
def test_the_schema_rejects_a_broken_compose_file(
    compose: dict[str, Any], change: Any, expected: str
) -> None:
    broken = copy.deepcopy(compose)
    change(broken)
    errors = _schema_errors(broken)
    assert errors, "the schema accepted a broken file"
    assert any(expected in error for error in errors), errors


# ---------------------------------------------------------------------------------------------
# What the stack promises
# ---------------------------------------------------------------------------------------------
def test_the_stack_is_postgres_redis_a_migration_the_api_and_a_worker(
    services: dict[str, Any],
) -> None:
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker"}
    assert services["postgres"]["image"] == "postgres:15"
    assert services["redis"]["image"] == "redis:7"
    for name in PORTICO_SERVICES:
        # One image, built from this directory's Dockerfile.
        assert services[name]["build"] == "."
        assert services[name]["image"] == "portico:latest"


@pytest.mark.parametrize("name", ["postgres", "redis", "api"])
def test_what_answers_has_a_health_check(services: dict[str, Any], name: str) -> None:
    healthcheck = services[name]["healthcheck"]
    assert not healthcheck.get("disable", False)
    assert healthcheck["test"][0] in ("CMD", "CMD-SHELL")
    assert healthcheck["interval"]
    assert healthcheck["retries"] >= 1


@pytest.mark.parametrize("name", ["migrate", "worker"])
def test_what_serves_no_http_turns_the_image_health_check_off(
    services: dict[str, Any], name: str
) -> None:
    # The image's HEALTHCHECK probes `serve`'s port: it would call these unhealthy.
    assert services[name]["healthcheck"] == {"disable": True}


def test_postgres_health_check_asks_for_the_database_the_services_use(
    services: dict[str, Any],
) -> None:
    postgres = environment_of(services["postgres"])
    probe = " ".join(services["postgres"]["healthcheck"]["test"][1:])
    assert f"-U {postgres['POSTGRES_USER']}" in probe
    assert f"-d {postgres['POSTGRES_DB']}" in probe


@pytest.mark.parametrize("name", ["api", "worker"])
def test_the_api_and_the_worker_start_after_healthy_servers_and_a_finished_migration(
    services: dict[str, Any], name: str
) -> None:
    assert services[name]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }


def test_the_migration_runs_once_after_postgres_is_healthy(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["restart"] == "no"


def _argv(service: dict[str, Any]) -> list[str]:
    entrypoint = service.get("entrypoint")
    if entrypoint is None:
        instruction = read_dockerfile().final.last("ENTRYPOINT")
        assert instruction is not None
        entrypoint = instruction.exec_form()
    return [*entrypoint, *service["command"]]


@pytest.mark.parametrize(
    ("name", "subcommand"), [("migrate", "migrate"), ("api", "serve"), ("worker", "worker")]
)
def test_each_portico_service_runs_its_portico_subcommand(
    services: dict[str, Any], name: str, subcommand: str
) -> None:
    argv = _argv(services[name])
    assert argv[0] == "portico"
    assert argv[1] == subcommand
    # The command line is one the real CLI accepts.
    assert portico_parser().parse_args(argv[1:]).command == subcommand


def test_the_api_listens_on_every_interface_at_the_port_it_publishes_and_probes(
    services: dict[str, Any],
) -> None:
    api = services["api"]
    arguments = portico_parser().parse_args(_argv(api)[1:])
    assert arguments.host == "0.0.0.0"  # noqa: S104 - inside the container, behind the mapping
    published = [str(p).rpartition(":")[2] for p in api["ports"]]
    assert published == [str(arguments.port)]
    probe = " ".join(api["healthcheck"]["test"])
    assert f"http://127.0.0.1:{arguments.port}/health/live" in probe


def test_the_api_leaves_jobs_to_the_worker(services: dict[str, Any]) -> None:
    assert environment_of(services["api"])["JOBS_IN_PROCESS"] == "false"
    # SIGTERM: the worker gets longer than its graceful timeout (30 s) to hand its job back.
    grace = services["worker"]["stop_grace_period"]
    assert re.fullmatch(r"\d+s", grace)
    assert int(grace[:-1]) > 30


def test_named_volumes_are_declared_and_uploads_are_shared_by_the_api_and_the_worker(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    declared = set(compose["volumes"])
    used: set[str] = set()
    for service in services.values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if not source.startswith((".", "/", "~")):
                used.add(source)
    assert used == declared == {"postgres-data", "redis-data", "storage"}
    for name in ("api", "worker"):
        storage_dir = environment_of(services[name])["STORAGE_DIR"]
        assert f"storage:{storage_dir}" in services[name]["volumes"]
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "redis-data:/data" in services["redis"]["volumes"]


# ---------------------------------------------------------------------------------------------
# Secrets
# ---------------------------------------------------------------------------------------------
def test_no_secret_has_a_default(compose: dict[str, Any], services: dict[str, Any]) -> None:
    for where, text in strings(compose):
        for placeholder in placeholders(text):
            if SECRET_NAME.search(placeholder.name):
                assert placeholder.required, f"{where}: ${{{placeholder.name}}} may go unset"
                assert placeholder.argument, f"{where}: say which variable to set"
    for name, service in services.items():
        for key, value in environment_of(service).items():
            if SECRET_NAME.search(key):
                # The whole value is the required variable: no literal, no default.
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value), f"{name}.{key} = {value!r}"
    # DATABASE_URL carries the password: from the same required variable, never a literal.
    database_url = environment_of(services["api"])["DATABASE_URL"]
    assert [(p.name, p.required) for p in placeholders(database_url)] == [
        ("POSTGRES_PASSWORD", True)
    ]
    assert re.match(r"postgresql\+asyncpg://portico:\$\{POSTGRES_PASSWORD:\?[^}]+\}@", database_url)


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_start_without_each_secret(
    compose: dict[str, Any], missing: str
) -> None:
    for unset_or_empty in ({}, {missing: ""}):
        environment = {k: v for k, v in SECRETS.items() if k != missing} | unset_or_empty
        with pytest.raises(MissingVariable) as refused:
            interpolated(compose, environment)
        assert refused.value.name == missing


def test_database_url_reaches_the_postgres_service_with_its_user_password_and_database(
    compose: dict[str, Any],
) -> None:
    resolved = interpolated(compose, SECRETS)["services"]
    postgres = environment_of(resolved["postgres"])
    assert postgres["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]
    for name in PORTICO_SERVICES:
        environment = environment_of(resolved[name])
        url = urlsplit(environment["DATABASE_URL"])
        assert url.scheme == "postgresql+asyncpg"
        assert (url.hostname, url.port) == ("postgres", 5432)
        assert url.username == postgres["POSTGRES_USER"]
        assert url.password == SECRETS["POSTGRES_PASSWORD"]
        assert url.path == f"/{postgres['POSTGRES_DB']}"
        redis = urlsplit(environment["REDIS_URL"])
        assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)


def test_the_compose_environment_is_accepted_by_the_production_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved = interpolated(compose, SECRETS)["services"]
    for name, value in environment_of(resolved["api"]).items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment == "production"
    assert settings.jobs_in_process is False
    assert settings.secret_key == SECRETS["SECRET_KEY"]
    assert settings.redis_url == "redis://redis:6379/0"


def test_the_interpolation_reader_follows_compose_rules() -> None:
    environment = {"SET": "value", "EMPTY": ""}
    assert interpolate("$$SET ${SET} $SET", environment) == "$SET value value"
    assert interpolate("${UNSET:-a} ${EMPTY:-b} ${UNSET-c} [${EMPTY-unused}]", environment) == (
        "a b c []"
    )
    assert interpolate("${SET:+alt} ${EMPTY:+alt}|", environment) == "alt |"
    with pytest.raises(MissingVariable):
        interpolate("${EMPTY:?needed}", environment)
    assert interpolate("${EMPTY?needed}", environment) == ""
    with pytest.raises(ValueError, match="unsupported"):
        placeholders("${A:-${B}}")
