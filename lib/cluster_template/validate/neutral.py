"""Neutral markers: stand-ins for values the validator cannot know.

Some values are unknowable offline: a SOPS-encrypted value, a post-build variable whose value lives in
an encrypted Secret, a `$patch: delete` directive standing where an object or list would be. Each is
replaced by a marker string. The marker is a valid DNS label, so when it is spliced into a longer
string (`echo.${SECRET_DOMAIN}`) the result still looks like the real thing to pattern checks. When a
whole value is a marker, the validator drops the value-level errors about it (type, pattern, enum,
...), which makes the marker type-neutral: `replicas: ${REPLICAS}` is not flagged as a string in an
integer field just because the real number is encrypted.
"""

from __future__ import annotations

import re

_PREFIX = "neutral-"
_MAX_LABEL = 63

SOPS_ENCRYPTED = f"{_PREFIX}sops-encrypted"
PATCH_DIRECTIVE = f"{_PREFIX}patch-directive"


def variable_marker(name: str) -> str:
    """The marker for post-build variable `name` (e.g. SECRET_DOMAIN -> neutral-secret-domain)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "var"
    return (_PREFIX + slug)[:_MAX_LABEL].rstrip("-")


def is_neutral(value: object) -> bool:
    return isinstance(value, str) and value.startswith(_PREFIX) and re.fullmatch(r"[a-z0-9-]+", value) is not None
