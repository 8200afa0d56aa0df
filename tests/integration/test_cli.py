"""The `portico` command as an operator runs it, and the README's in-process example."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _portico(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", *args],
        cwd=ROOT,
        env={**os.environ, "BCRYPT_ROUNDS": "4", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/cli.db", "REDIS_URL": ""}


def test_migrate_then_create_superuser_twice_promotes_one_account(env):
    assert _portico("migrate", env=env).returncode == 0
    first = _portico(
        "create-superuser", "--email", "Root@Example.com", "--password", "rootpass1", env=env
    )
    again = _portico(
        "create-superuser", "--email", "root@example.com", "--password", "other-pass", env=env
    )
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert first.stdout.strip() == again.stdout.strip() == "root@example.com is a superuser"


def test_create_superuser_refuses_a_weak_password_with_one_line_and_status_1(env):
    _portico("migrate", env=env)
    result = _portico("create-superuser", "--email", "a@b.io", "--password", "short", env=env)
    assert result.returncode == 1
    assert (
        result.stderr.strip() == "portico create-superuser: password must be at least 8 characters"
    )


def test_openapi_prints_the_document(env):
    result = _portico("openapi", env=env)
    document = json.loads(result.stdout)
    assert document["info"]["title"] == "Portico"
    assert "/api/v1/items/{item_id}" in document["paths"]


def test_serve_refuses_several_workers_without_redis(env):
    result = _portico("serve", "--workers", "2", env=env)
    assert result.returncode == 2
    assert "REDIS_URL" in result.stderr


def test_production_refuses_the_development_secret(env):
    result = _portico("openapi", env={**env, "ENVIRONMENT": "production"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("ACCESS_TOKEN_TTL_SECONDS", "10", "greater than or equal to 30 (got '10')"),
        ("BCRYPT_ROUNDS", "many", "valid integer"),
        ("JOBS_IN_PROCESS", "perhaps", "valid boolean"),
        ("ENVIRONMENT", "staging", "'development', 'test' or 'production'"),
    ],
)
def test_a_bad_setting_is_one_line_naming_it_and_its_bounds_with_status_2(
    env, variable, value, expected
):
    result = _portico("migrate", env={**env, variable: value})
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"portico migrate: invalid setting {variable}: ")
    assert expected in line


def test_a_bad_secret_is_named_but_never_echoed(env):
    result = _portico("migrate", env={**env, "ENVIRONMENT": "production", "SECRET_KEY": "short"})
    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr and "short" not in result.stderr
    assert "Traceback" not in result.stderr


def test_the_readme_example_runs_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Using the use cases without HTTP", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    script = tmp_path / "example.py"
    script.write_text(code.group(1))
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "BCRYPT_ROUNDS": "4",
            "REDIS_URL": "",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/readme.db",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['Write the report'] 1"
