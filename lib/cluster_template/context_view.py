"""Presenting the template context to people: secrets masked, stable order."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .config.model import ClusterConfig, secret_keys
from .run import REDACTED, Redactor

LOCAL_SECRET_KEYS = ("age_private_key", "github_deploy_key", "github_push_token", "cloudflare_tunnel_token")


def redacted_context(context: Mapping[str, Any], redactor: Redactor) -> dict[str, Any]:
    """`context` with every credential replaced by a marker, including copies inside derived values."""
    hidden = set(secret_keys(ClusterConfig)) | set(LOCAL_SECRET_KEYS)

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return redactor.redact(value)
        if isinstance(value, Mapping):
            return {key: scrub(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [scrub(item) for item in value]
        return value

    return {
        key: (REDACTED if key in hidden and value else scrub(value))
        for key, value in sorted(context.items())
    }


def as_json(context: Mapping[str, Any]) -> str:
    return json.dumps(context, indent=2, sort_keys=True)


def as_text(context: Mapping[str, Any]) -> str:
    return "\n".join(f"{key}: {json.dumps(value, sort_keys=True)}" for key, value in sorted(context.items()))
