"""Derived variables: one pure function from the validated configuration to the template context.

No clock, no randomness, no I/O: the same configuration and local inputs always give the same
context. Core derivations come first; each optional component's derivations (in `components`) see
the context built so far.
"""

from __future__ import annotations

from typing import Any

from ..config.load import Config
from ..inputs import LocalInputs
from .components import DERIVERS
from .core import derive_core


def derive(config: Config, local: LocalInputs) -> dict[str, Any]:
    """The full template context for `config` (see docs/TEMPLATES.md)."""
    context = derive_core(config, local)
    for deriver in DERIVERS:
        context.update(deriver(config.cluster, dict(context)))
    return dict(sorted(context.items()))
