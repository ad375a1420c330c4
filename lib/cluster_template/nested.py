"""Walking parsed YAML/JSON data (nested dicts and lists)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def mapping_or_empty(value: Any) -> Mapping[Any, Any]:
    """`value` when it is a mapping, else an empty one: a missing or malformed section reads as empty."""
    return value if isinstance(value, Mapping) else {}


def strings_in(value: Any, *, keys: bool = False) -> Iterator[str]:
    """Every string in `value`, depth first in document order; mapping keys too when `keys`."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if keys:
                yield from strings_in(key, keys=keys)
            yield from strings_in(item, keys=keys)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item, keys=keys)
