"""The complete configuration model: `cluster.yaml` (`ClusterConfig`) and `nodes.yaml` (`NodesConfig`).

`ClusterConfig` is assembled from the core group and one group per optional component, so each
component's keys, defaults and descriptions live beside each other in one module. This module is
the single source of truth for the JSON Schemas (`inv template.schema`) and `docs/CONFIGURATION.md`.
"""

from __future__ import annotations

from pydantic import BaseModel

from .components import COMPONENT_GROUPS
from .core import CoreSettings
from .nodes import Node, NodesConfig
from .types import is_secret_field

__all__ = ["ClusterConfig", "Node", "NodesConfig", "secret_keys"]


# mypy cannot see bases unpacked from a tuple; it checks ClusterConfig as CoreSettings only (each
# group is checked in its own module).
class ClusterConfig(CoreSettings, *COMPONENT_GROUPS):  # type: ignore[misc]
    """Every key of cluster.yaml."""


def secret_keys(model: type[BaseModel] = ClusterConfig) -> tuple[str, ...]:
    """Names of the fields whose values are credentials."""
    return tuple(name for name, info in model.model_fields.items() if is_secret_field(info))
