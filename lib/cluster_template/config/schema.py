"""JSON Schemas for cluster.yaml and nodes.yaml, generated from the pydantic model."""

from __future__ import annotations

import json

from pydantic import BaseModel

from .model import ClusterConfig, NodesConfig

SCHEMA_URL = "https://json-schema.org/draft/2020-12/schema"


def _schema(model: type[BaseModel], title: str) -> dict:
    schema = model.model_json_schema()
    schema["$schema"] = SCHEMA_URL
    schema["title"] = title
    return schema


def schema_files() -> dict[str, str]:
    """{file name: JSON text}, deterministic."""
    return {
        "cluster.schema.json": json.dumps(_schema(ClusterConfig, "cluster.yaml"), indent=2, sort_keys=True) + "\n",
        "nodes.schema.json": json.dumps(_schema(NodesConfig, "nodes.yaml"), indent=2, sort_keys=True) + "\n",
    }
