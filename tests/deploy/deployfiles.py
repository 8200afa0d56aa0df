"""Readers for the deployment files, as the tools that consume them read them.

- `Dockerfile`: instructions joined across line continuations, grouped by stage (what
  BuildKit sees, minus variable expansion inside RUN).
- `.dockerignore`: the rules of moby's patternmatcher (what `docker build` leaves out of the
  context): `*` stays within one path segment, `**` spans any number, a later line wins, and a
  pattern that matches a parent directory matches everything under it.
- `compose.yaml`: YAML 1.2 (as Compose's own parser reads it: `8000:8000` is a string, not a
  base-60 number) and Compose's `${VAR…}` interpolation.

No Docker engine is needed for any of it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_FILE = ROOT / "compose.yaml"


# ---------------------------------------------------------------------------------------------
# Dockerfile
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction, its continuation lines joined."""

    keyword: str
    arguments: str
    line: int

    def exec_form(self) -> list[str]:
        """The JSON (exec-form) argument list; raises ValueError for the shell form."""
        if not self.arguments.startswith("["):
            raise ValueError(f"line {self.line}: {self.keyword} is in shell form")
        value = json.loads(self.arguments)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"line {self.line}: {self.keyword} is not a list of strings")
        return value


@dataclass(frozen=True, slots=True)
class Stage:
    """One build stage: its base image (build arguments resolved), name and instructions."""

    base: str
    name: str | None
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        """The stage's instructions with this keyword, in order."""
        return [i for i in self.instructions if i.keyword == keyword.upper()]

    def last(self, keyword: str) -> Instruction | None:
        """The stage's last instruction with this keyword (the one in force), or None."""
        found = self.all(keyword)
        return found[-1] if found else None


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """A parsed Dockerfile: the global build arguments and the stages, in order."""

    build_args: Mapping[str, str]
    stages: tuple[Stage, ...]

    @property
    def final(self) -> Stage:
        """The stage that becomes the image (the last one)."""
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        """The stage named `name`; raises KeyError when there is none."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)


def _instructions(text: str) -> Iterator[Instruction]:
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        # Comment lines are dropped, also between continuation lines (as BuildKit does).
        if not line or line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        joined = " ".join(part for part in pending if part)
        pending = []
        keyword, _, arguments = joined.partition(" ")
        yield Instruction(keyword.upper(), arguments.strip(), start)
    if pending:
        raise ValueError(f"line {start}: a line continuation runs off the end of the file")


def _substitute(text: str, values: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values.get(name, match.group(0))

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", value, text)


def read_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    """The Dockerfile at `path`, parsed; raises ValueError if it has no FROM or an instruction
    comes before the first FROM other than ARG."""
    build_args: dict[str, str] = {}
    stages: list[Stage] = []
    current: list[Instruction] | None = None
    base = ""
    name: str | None = None
    for instruction in _instructions(path.read_text()):
        if instruction.keyword == "FROM":
            if current is not None:
                stages.append(Stage(base, name, tuple(current)))
            words = instruction.arguments.split()
            words = [w for w in words if not w.startswith("--platform")]
            base = _substitute(words[0], build_args)
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            current = []
        elif current is None:
            if instruction.keyword != "ARG":
                raise ValueError(f"line {instruction.line}: {instruction.keyword} before FROM")
            arg_name, _, default = instruction.arguments.partition("=")
            build_args[arg_name.strip()] = default.strip()
        else:
            current.append(instruction)
    if current is None:
        raise ValueError(f"{path}: no FROM")
    stages.append(Stage(base, name, tuple(current)))
    return Dockerfile(build_args, tuple(stages))


def healthcheck_command(instruction: Instruction) -> list[str]:
    """The exec-form command of a `HEALTHCHECK [OPTIONS] CMD [...]` instruction; raises
    ValueError for `HEALTHCHECK NONE` or a shell-form command."""
    options, separator, command = instruction.arguments.partition("CMD ")
    if not separator:
        raise ValueError(f"line {instruction.line}: HEALTHCHECK has no CMD ({options.strip()})")
    return Instruction("CMD", command.strip(), instruction.line).exec_form()


# ---------------------------------------------------------------------------------------------
# .dockerignore
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IgnorePattern:
    """One .dockerignore line: its compiled form and whether it lets paths back in (`!`)."""

    text: str
    regex: re.Pattern[str]
    exception: bool


def _compile(pattern: str) -> re.Pattern[str]:
    out = "^"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            if pattern[i + 1 : i + 2] == "*":
                i += 2
                if pattern[i : i + 1] == "/":
                    i += 1
                out += ".*" if i >= len(pattern) else "(.*/)?"
                continue
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


def _clean(pattern: str) -> str:
    parts: list[str] = []
    for part in pattern.strip("/").split("/"):
        if part in ("", "."):
            continue
        if part == ".." and parts:
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts) or "."


def read_dockerignore(path: Path = DOCKERIGNORE) -> tuple[IgnorePattern, ...]:
    """The patterns of the .dockerignore at `path`, in order (comments and blank lines out)."""
    patterns: list[IgnorePattern] = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        cleaned = _clean(line[1:].strip() if exception else line)
        patterns.append(IgnorePattern(line, _compile(cleaned), exception))
    return tuple(patterns)


def excluded(patterns: tuple[IgnorePattern, ...], relative_path: str) -> bool:
    """Whether `docker build` leaves the file at `relative_path` (POSIX, from the context root)
    out of the build context under these patterns."""
    path = _clean(relative_path)
    parents = path.split("/")[:-1]
    matched = False
    for pattern in patterns:
        # An exception can only undo a match, a plain pattern only make one.
        if pattern.exception != matched:
            continue
        match = bool(pattern.regex.match(path)) or any(
            pattern.regex.match("/".join(parents[: i + 1])) for i in range(len(parents))
        )
        if match:
            matched = not pattern.exception
    return matched


# ---------------------------------------------------------------------------------------------
# compose.yaml
# ---------------------------------------------------------------------------------------------
def read_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """The compose file at `path` as plain data, anchors and merges resolved, not interpolated."""
    data = YAML(typ="safe", pure=True).load(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a mapping")
    return data


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One `${NAME…}` or `$NAME` in a compose value: the variable, its operator
    (`""`, `"-"`, `":-"`, `"?"`, `":?"`, `"+"`, `":+"`) and the operator's argument."""

    name: str
    operator: str
    argument: str

    @property
    def required(self) -> bool:
        """Whether Compose refuses to run when the variable is unset or empty (`:?`)."""
        return self.operator == ":?"

    @property
    def has_default(self) -> bool:
        """Whether a value stands in when the variable is unset (`-`, `:-`)."""
        return self.operator in ("-", ":-")


_PLACEHOLDER = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<argument>[^{}$]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<invalid>))"
)


class MissingVariable(Exception):
    """A required variable (`${NAME:?message}`) is unset or empty: Compose stops here."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"required variable {name} is missing a value: {message}")
        self.name = name


def placeholders(text: str) -> list[Placeholder]:
    """The placeholders in one string; raises ValueError for syntax this reader does not know
    (a nested `${…}` in a default, a lone `$`), rather than misreading it."""
    found: list[Placeholder] = []
    for match in _PLACEHOLDER.finditer(text):
        if match.group("invalid") is not None:
            raise ValueError(f"unsupported interpolation at {match.start()} in {text!r}")
        if match.group("escaped"):
            continue
        name = match.group("braced") or match.group("named")
        found.append(
            Placeholder(name, match.group("operator") or "", match.group("argument") or "")
        )
    return found


def interpolate(text: str, environment: Mapping[str, str]) -> str:
    """`text` with each placeholder replaced as Compose replaces it from `environment`; raises
    MissingVariable for a required variable that is unset or empty."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("invalid") is not None:
            raise ValueError(f"unsupported interpolation in {text!r}")
        name = match.group("braced") or match.group("named")
        operator = match.group("operator") or ""
        argument = match.group("argument") or ""
        value = environment.get(name)
        present = value is not None and (value != "" or not operator.startswith(":"))
        if operator in ("-", ":-"):
            return value if present and value is not None else argument
        if operator in ("?", ":?"):
            if not present or value is None:
                raise MissingVariable(name, argument)
            return value
        if operator in ("+", ":+"):
            return argument if present else ""
        return value or ""

    return _PLACEHOLDER.sub(replace, text)


def strings(value: object, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a compose document (keys excluded), with a dotted path to it."""
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{where}[{index}]")


def interpolated(value: object, environment: Mapping[str, str]) -> Any:
    """A copy of a compose document with every string interpolated from `environment`; raises
    MissingVariable as `interpolate` does."""
    if isinstance(value, str):
        return interpolate(value, environment)
    if isinstance(value, Mapping):
        return {key: interpolated(item, environment) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolated(item, environment) for item in value]
    return value


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's `environment`, given as a mapping or as `KEY=VALUE` items, as a mapping
    (values as strings, as the container sees them)."""
    declared = service.get("environment") or {}
    if isinstance(declared, list):
        pairs = (item.partition("=") for item in declared)
        return {key: value for key, _, value in pairs}
    return {
        str(k): ("" if v is None else str(v).lower() if isinstance(v, bool) else str(v))
        for k, v in declared.items()
    }
