"""Load `cluster.yaml` and `nodes.yaml`, validate them, and report every problem with file:line.

ruamel.yaml's round-trip loader keeps the position of every key, so a pydantic error location
such as `("nodes", 2, "address")` can be turned into `nodes.yaml:14: nodes[2].address: ...`.
YAML 1.2 is used, so `off`/`no` stay strings instead of turning into booleans.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ConfigIssue
from ..readfile import UnreadableInput, read_text
from ..run import REDACTED
from pydantic import BaseModel
from pydantic_core import ErrorDetails

from .base import RULES

CLUSTER_FILE = "cluster.yaml"
NODES_FILE = "nodes.yaml"
MAX_CONFIG_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Config:
    """Both files, validated. `cluster` is a ClusterConfig, `nodes` a NodesConfig."""

    cluster: Any
    nodes: Any


class _Document:
    """A parsed file: plain data for validation plus the ruamel tree for positions."""

    def __init__(self, name: str, tree: Any):
        self.name = name
        self.tree = tree
        self.data = _plain(tree)  # may raise _TooManyValues

    def line_of(self, location: tuple[Any, ...]) -> int | None:
        """1-based line of the deepest part of `location` that exists in the file."""
        node, line = self.tree, None
        for part in location:
            try:
                if isinstance(part, int) and isinstance(node, list) and hasattr(node, "lc"):
                    line = node.lc.item(part)[0] + 1
                    node = node[part]
                elif isinstance(node, dict) and hasattr(node, "lc") and _key_in(node, part) is not _ABSENT:
                    key = _key_in(node, part)  # `123:` or `true:` in the file is the key "123" / "True" here
                    line = node.lc.key(key)[0] + 1
                    node = node[key]
                else:
                    break
            except (KeyError, IndexError, TypeError, AttributeError):
                break
        if line is None and hasattr(self.tree, "lc"):
            return None
        return line


_ABSENT = object()


def _key_in(mapping: dict, part: Any) -> Any:
    """The key of `mapping` that `_plain` turned into `part`, or _ABSENT."""
    if part in mapping:
        return part
    return next((key for key in mapping if str(key) == str(part)), _ABSENT)


MAX_VALUES = 100_000


class _TooManyValues(Exception):
    pass


def _plain(node: Any, budget: list[int] | None = None) -> Any:
    """ruamel's commented containers and scalar subclasses as built-in Python types.

    YAML aliases are expanded here, so the number of values is capped: a few nested aliases
    ("billion laughs") would otherwise expand into billions of values."""
    budget = [MAX_VALUES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooManyValues
    if isinstance(node, dict):
        return {str(key): _plain(value, budget) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item, budget) for item in node]
    if isinstance(node, bool) or node is None:
        return node
    for builtin in (int, float, str):
        if isinstance(node, builtin):
            return builtin(node)
    return node


def _parse(path: Path, issues: list[ConfigIssue]) -> _Document | None:
    name = path.name
    try:
        text = read_text(path, limit=MAX_CONFIG_BYTES, label=name)
    except FileNotFoundError:
        hint = "run `inv init` to create it from the sample" if name in (CLUSTER_FILE, NODES_FILE) else ""
        issues.append(ConfigIssue(name, "", f"file not found; {hint}".rstrip("; ")))
        return None
    except UnreadableInput as exc:
        issues.append(ConfigIssue(name, "", exc.reason, exc.line))
        return None
    if "\x00" in text:
        issues.append(ConfigIssue(name, "", "contains NUL bytes (binary content?)", text[: text.index("\x00")].count("\n") + 1))
        return None

    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from ..yamlload import describe

    yaml = YAML(typ="rt")  # round-trip: keeps every key's line for the messages
    yaml.allow_duplicate_keys = False
    try:
        tree = yaml.load(text)
    # IndexError: ruamel's integer constructor fails on a sign and underscores alone (`-_`).
    except (YAMLError, RecursionError, ValueError, IndexError) as exc:
        line, problem = describe(exc)
        issues.append(ConfigIssue(name, "", f"invalid YAML: {problem}", line))
        return None
    if tree is None:
        issues.append(ConfigIssue(name, "", "file is empty; start from the sample (`inv init`)"))
        return None
    if not isinstance(tree, dict):
        kind = "list" if isinstance(tree, list) else type(tree).__name__
        issues.append(ConfigIssue(name, "", f"must be a mapping of keys to values, not a {kind}", 1))
        return None
    try:
        return _Document(name, tree)
    except _TooManyValues:
        issues.append(ConfigIssue(name, "", f"file holds more than {MAX_VALUES} values (nested YAML aliases?)"))
        return None


def _location_key(location: tuple[Any, ...]) -> str:
    key = ""
    for part in location:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _model_issues(model: type[BaseModel], document: _Document, issues: list[ConfigIssue]) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            location = _data_location(document.data, error["loc"])
            issues.append(ConfigIssue(
                document.name,
                _location_key(location),
                _describe(model, error, location),
                document.line_of(location),
            ))
        return None


def _data_location(data: Any, location: tuple[Any, ...]) -> tuple[Any, ...]:
    """The parts of a pydantic error location that address the data.

    pydantic inserts the names of union members and validators ("function-after[...]", "int") into
    locations; those are dropped by following the location through the data itself. The last part
    is kept even when absent from the data: it names a missing key."""
    kept: list[Any] = []
    current = data
    for index, part in enumerate(location):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            current = current[part]
        elif index != len(location) - 1:
            continue
        kept.append(part)
    return tuple(kept)


def _describe(model: type, error: ErrorDetails, location: tuple[Any, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        reason = _unsupported_seed_key(model, location)
        if reason is not None:
            return f"not supported (yet): {reason}"
        fields = _fields_at(model, location[:-1])
        close = difflib.get_close_matches(str(location[-1]), fields, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"unknown key{hint}"
    if kind == "missing":
        return "is required"
    message = error["msg"]
    message = re.sub(r"^(Value error|Assertion failed), ", "", message)
    given = error.get("input")
    if _is_secret_location(model, location):
        # Never echo a credential, not even a mistyped one: it may be a real token one typo off.
        for form in {str(given), repr(given)} if given not in (None, "") else ():
            message = message.replace(form, REDACTED)
        return message
    if kind.endswith(("_type", "_parsing")) and not isinstance(given, (dict, list)):
        return f"{message} (got {given!r})"
    return message


def _unsupported_seed_key(model: type, location: tuple[Any, ...]) -> str | None:
    """For a top-level cluster.yaml key the seed has and this template does not, the reason."""
    from .model import ClusterConfig
    from .seed_keys import unsupported_seed_key

    if model is not ClusterConfig or len(location) != 1:
        return None
    return unsupported_seed_key(str(location[0]))


def _is_secret_location(model: type, location: tuple[Any, ...]) -> bool:
    from .types import is_secret_field

    field = getattr(model, "model_fields", {}).get(location[0]) if location else None
    return field is not None and is_secret_field(field)


def _fields_at(model: type, location: tuple[Any, ...]) -> list[str]:
    """Field names of the (sub)model found at `location`, for "did you mean" hints."""
    from pydantic import BaseModel

    current: Any = model
    for part in location:
        if isinstance(part, int):
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        for candidate in list(candidates):
            candidates.extend(getattr(candidate, "__args__", ()))
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


_NODE_KEY = re.compile(r"^nodes\[(\d+)\](?:\.(\w+))?$")


def _rule_issue(key: str, message: str, cluster: _Document, nodes: _Document) -> ConfigIssue:
    match = _NODE_KEY.match(key)
    if match:
        location: tuple[Any, ...] = ("nodes", int(match.group(1)))
        if match.group(2):
            location += (match.group(2),)
        return ConfigIssue(nodes.name, key, message, nodes.line_of(location))
    if key == "nodes":
        return ConfigIssue(nodes.name, key, message, nodes.line_of(("nodes",)))
    return ConfigIssue(cluster.name, key, message, cluster.line_of((key,)))


def load_config(root: Path, cluster_file: str = CLUSTER_FILE, nodes_file: str = NODES_FILE) -> Config:
    """Parse and validate both files under `root`. Raises ConfigError listing every issue."""
    from .model import ClusterConfig, NodesConfig

    issues: list[ConfigIssue] = []
    cluster_doc = _parse(root / cluster_file, issues)
    nodes_doc = _parse(root / nodes_file, issues)
    cluster = _model_issues(ClusterConfig, cluster_doc, issues) if cluster_doc else None
    nodes = _model_issues(NodesConfig, nodes_doc, issues) if nodes_doc else None
    if cluster_doc is not None and nodes_doc is not None and cluster is not None and nodes is not None:
        for check in RULES:
            for key, message in check(cluster, nodes):
                issues.append(_rule_issue(key, message, cluster_doc, nodes_doc))
    if issues:
        raise ConfigError(sorted(set(issues), key=lambda i: (i.file, i.line or 0, i.key, i.message)))
    return Config(cluster=cluster, nodes=nodes)
