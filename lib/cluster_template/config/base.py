"""The base every settings group derives from, and the registry of cross-field rules.

`cluster.yaml` is one flat mapping, so its model is one class assembled from several groups (the
core keys, and one group per optional component). Each group is a `Settings` subclass in its own
module; rules that look at more than one field are plain functions registered with `@rule`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from .types import check_plain_text, is_secret_field

if TYPE_CHECKING:
    from .model import ClusterConfig, NodesConfig


class Settings(BaseModel):
    """A group of `cluster.yaml` keys. Unknown keys are refused; values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @field_validator("*", mode="after")
    @classmethod
    def _plain_text_only(cls, value: object, info: ValidationInfo) -> object:
        """Every string, in every group, at any depth: no control characters or line breaks (no
        key needs one, and in a template they become YAML structure), no `${` (Flux would
        substitute it), and a credential is not blank."""
        field = cls.model_fields.get(info.field_name or "")
        check_plain_text(value, secret=field is not None and is_secret_field(field))
        return value


# A rule yields (key, message) pairs; `key` names the cluster.yaml key (or "nodes[i].field" for a
# node) the message is about, so the loader can point at its line.
Rule = Callable[["ClusterConfig", "NodesConfig"], Iterable[tuple[str, str]]]
RULES: list[Rule] = []


def rule(function: Rule) -> Rule:
    """Register a cross-field rule, checked after every field is individually valid."""
    RULES.append(function)
    return function


def is_set(value: object) -> bool:
    """True for a value the user actually gave: not None, not an empty string or list."""
    return value is not None and value != "" and value != [] and value != {}


def set_together(config, keys: tuple[str, ...], what: str):
    """Yield an issue for each missing key of a group that is only partly set."""
    given = [key for key in keys if is_set(getattr(config, key))]
    if given and len(given) < len(keys):
        for key in keys:
            if key not in given:
                yield key, f"must be set together with {', '.join(given)} ({what})"
