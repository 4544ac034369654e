"""A file under config/ (YAML, or JSON) -> a validated pydantic model, or one ConfigError line.

Every problem reads `file:line: field: message`, the line being that of the YAML node the field
path leads to (the nearest enclosing node when the field is missing):

    config/escalation.yaml:84: routes.3.start_level: route 3 names unknown level "team_leed" (levels: ...)

Field paths count list items from 1, as the messages do ("route 3"). Data that never was a file
(a mapping built in a test) carries a label instead of the file and no line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pipeline.errors import ConfigError

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]
SHOWN = 3   # errors spelled out per ValidationError; the rest are counted
_BOOL_HINT = " (YAML reads bare yes/no/on/off as booleans: put the value in quotes)"


class ConfigProblem(ValueError):
    """A mistake a schema cannot see, at `loc` (the data path: list indices from 0, as pydantic's).

    Raise it from a model validator or a cross-reference check; the loader reports the node's line.
    """

    def __init__(self, loc: Sequence[str | int], message: str) -> None:
        super().__init__(message)
        self.loc: Loc = tuple(loc)


def field_path(loc: Sequence[str | int]) -> str:
    """("routes", 2, "start_level") -> "routes.3.start_level"."""
    return ".".join(str(p + 1) if isinstance(p, int) else str(p) for p in loc)


def _problems(exc: ValidationError) -> list[tuple[Loc, str, Any]]:
    """(loc, message, input) per error; a ConfigProblem raised in a validator adds its own loc."""
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigProblem):
            loc += cause.loc
        msg = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        out.append((loc, msg, err.get("input")))
    return out


def describe_errors(exc: ValidationError) -> str:
    """The first errors as `field: message; ...` (for input that is not a config file)."""
    return "; ".join(f"{field_path(loc)}: {msg}" if loc else msg for loc, msg, _ in _problems(exc)[:SHOWN])


@dataclass(frozen=True)
class Document:
    """A parsed config file: its data, and the YAML node tree that knows each value's line."""

    name: str                      # the file (see _shown), or a label for data that never was a file
    data: Any
    root: yaml.Node | None = None  # None: no line numbers (JSON, or a mapping built in code)

    def line(self, loc: Sequence[str | int]) -> int | None:
        """1-based line of the node `loc` leads to, or of the deepest node on the way that exists."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line
        for p in loc:
            if isinstance(node, yaml.MappingNode):
                hits = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(p)]
                if not hits:
                    break
                key, node = hits[-1]          # a repeated key: the last one wins, as in the data
                line = key.start_mark.line
            elif isinstance(node, yaml.SequenceNode) and isinstance(p, int) and 0 <= p < len(node.value):
                node = node.value[p]
                line = node.start_mark.line
            else:
                break
        return line + 1

    def where(self, loc: Sequence[str | int] = ()) -> str:
        line = self.line(loc)
        return self.name if line is None else f"{self.name}:{line}"

    def error(self, loc: Sequence[str | int], message: str) -> ConfigError:
        """ConfigError `file:line: field: message` for a problem found after validation."""
        return ConfigError(f"{self.where(loc)}: {field_path(loc)}: {message}" if loc else f"{self.where()}: {message}")

    def explain(self, exc: ValidationError) -> str:
        parts = []
        problems = _problems(exc)
        for loc, msg, given in problems[:SHOWN]:
            if isinstance(given, bool) and self.root is not None:
                msg += _BOOL_HINT
            parts.append(str(self.error(loc, msg)))
        if len(problems) > SHOWN:
            parts.append(f"and {len(problems) - SHOWN} more")
        return "; ".join(parts)

    def validate(self, model: type[M]) -> M:
        """`model` from the data, or ConfigError naming file, line and field of the first problems."""
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            raise ConfigError(self.explain(exc)) from None


def _shown(path: Path | str) -> str:
    """The path as given, or relative to the working directory when it lies inside it (shorter, clickable)."""
    p = Path(path)
    if p.is_absolute():
        try:
            return str(p.relative_to(Path.cwd()))
        except (ValueError, OSError):
            pass
    return str(path)


def read(path: Path | str) -> Document:
    """Parse one file (`.json` as JSON, anything else as YAML) whose top level is a mapping."""
    name = _shown(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: cannot read: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    root = None
    if name.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{name}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    else:
        # compose, then construct: the same data yaml.safe_load gives, plus the node tree with its marks
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{name}:{mark.line + 1}" if mark is not None else name
            raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
        finally:
            loader.dispose()
    doc = Document(name, {} if data is None else data, root)
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{doc.where()}: top level must be a mapping, got {type(doc.data).__name__}")
    return doc


def load_yaml(path: Path | str, model: type[M]) -> M:
    """Read and validate one config file; ConfigError `file:line: field: message` if anything is wrong."""
    return read(path).validate(model)
