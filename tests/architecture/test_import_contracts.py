"""The import contracts in `.importlinter` bite.

Each case copies the four packages and the contracts into a temporary directory, adds one
module that breaks one rule of docs/architecture.md, and runs `lint-imports` on the copy: the run
must fail and report the contract that the new module breaks as BROKEN.
"""

import configparser
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "application", "adapters", "entrypoints")
CONFIG = ROOT / ".importlinter"
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def _contracts() -> dict[str, configparser.SectionProxy]:
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    prefix = "importlinter:contract:"
    return {
        section.removeprefix(prefix): parser[section]
        for section in parser.sections()
        if section.startswith(prefix)
    }


def _independent_adapters() -> list[str]:
    contract = _contracts().get("independent-adapters")
    modules = contract["modules"].split() if contract else []
    return [m for m in modules if (ROOT / m.replace(".", "/")).is_dir()]


@dataclass(frozen=True)
class Violation:
    contract: str
    module: str
    source: str


def _violations() -> list[Violation]:
    cases = [
        Violation("layers", "domain._violation", "import application\n"),
        Violation("layers", "application._violation", "from entrypoints import settings\n"),
        Violation("layers", "adapters._violation", "import entrypoints\n"),
        Violation("pure-core", "domain._violation", "import sqlalchemy\n"),
        Violation("pure-core", "application._violation", "from pydantic import BaseModel\n"),
        Violation("pure-core", "application._violation", "import fastapi\n"),
        Violation("protected-adapters", "entrypoints.http._violation", "import adapters\n"),
        Violation("protected-adapters", "entrypoints._violation", "from adapters import memory\n"),
        Violation("thin-http", "entrypoints.http._violation", "import sqlalchemy\n"),
        Violation("thin-http", "entrypoints.http._violation", "from redis import asyncio\n"),
        Violation("acyclic-siblings", "domain._cycle_a", "import domain._cycle_b\n"),
        Violation(
            "application-rings",
            "application.use_cases._violation",
            "import application.messagebus\n",
        ),
        Violation(
            "application-rings", "application.jobs._violation", "import application.use_cases\n"
        ),
        Violation(
            "application-rings",
            "application.services._violation",
            "import application.resilience\n",
        ),
    ]
    adapters = _independent_adapters()
    if len(adapters) >= 2:
        first, second = adapters[:2]
        cases.append(Violation("independent-adapters", f"{first}._violation", f"import {second}\n"))
    return cases


def _case_id(violation: Violation) -> str:
    return f"{violation.module}: {violation.source.strip()}"


def _copy_tree(destination: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            destination / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    shutil.copy(CONFIG, destination / ".importlinter")
    return destination


def _add_module(tree: Path, dotted_name: str, source: str) -> None:
    *packages, module = dotted_name.split(".")
    directory = tree
    for package in packages:
        directory = directory / package
        directory.mkdir(exist_ok=True)
        (directory / "__init__.py").touch()
    (directory / f"{module}.py").write_text(source)


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH puts the copy ahead of the project's editable install, so grimp reads the copy.
    env = {**os.environ, "PYTHONPATH": str(tree), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache", str(tree / ".importlinter")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_untouched_copy_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint_imports(_copy_tree(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_contract_has_a_violation_case() -> None:
    assert set(_contracts()) == {violation.contract for violation in _violations()}


@pytest.mark.parametrize("violation", _violations(), ids=_case_id)
def test_breaking_a_rule_fails_lint_imports_naming_the_contract(
    tmp_path: Path, violation: Violation
) -> None:
    tree = _copy_tree(tmp_path)
    _add_module(tree, violation.module, violation.source)
    if violation.module == "domain._cycle_a":
        _add_module(tree, "domain._cycle_b", "import domain._cycle_a\n")

    result = _lint_imports(tree)

    name = _contracts()[violation.contract]["name"]
    assert result.returncode != 0, result.stdout
    assert f"{name} BROKEN" in result.stdout, result.stdout + result.stderr
