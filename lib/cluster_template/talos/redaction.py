"""Keeping Talos secrets out of what talosctl shows: a machine config's secret values (to register
with the executor's redactor) and a mask for secret-looking lines of a config or config diff.

`talosctl apply-config --dry-run` prints a unified diff of the running and the new config with
unredacted context lines, so `machine.ca.key`, `cluster.token` or `cluster.serviceAccount.key` show
up next to an ordinary edit. Registering the bundle's values is the first defence; masking every
line whose key names a key, token or secret is the second (it also covers values the node runs
that this checkout does not know, such as secrets from before a rotation).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..nested import strings_in
from ..run import REDACTED

# A YAML key that holds a secret in a Talos machine config: `key`, `token`, `secret`,
# `secretboxEncryptionSecret`, `aescbcEncryptionSecret`, `bootstrapToken`, `password`, ...
_SECRET_KEY = re.compile(r"(?i)^(?:[a-z0-9]*?)(key|token|secret|password)$")
# `<diff marker><indent>[- ]key: value` as a YAML mapping line appears in a unified diff.
_LINE = re.compile(r"^(?P<lead>[ +\-]?\s*(?:-\s+)?)(?P<key>[A-Za-z0-9_]+):(?P<rest>\s*.*)$")
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY-----")


def is_secret_key(name: str) -> bool:
    return bool(_SECRET_KEY.match(name))


def config_secret_values(documents: Any) -> Iterator[str]:
    """Every string under a secret-named key of parsed machine config documents."""
    if isinstance(documents, dict):
        for name, value in documents.items():
            if isinstance(name, str) and is_secret_key(name):
                yield from strings_in(value)
            else:
                yield from config_secret_values(value)
    elif isinstance(documents, list):
        for item in documents:
            yield from config_secret_values(item)


def machine_config_secret_values(text: str) -> list[str]:
    """The secret values of a machine config file (every document); [] when it is not YAML."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        documents = [doc for doc in YAML(typ="safe").load_all(text) if doc is not None]
    except YAMLError:
        return []
    return [value for value in config_secret_values(documents) if value.strip()]


def mask_secret_lines(text: str) -> str:
    """`text` (a config or a unified diff of configs) with the value of every secret-named key, the
    lines of a block scalar under such a key, and the body of any PEM private key replaced by
    [REDACTED]."""
    out: list[str] = []
    block_indent: int | None = None  # indent of a secret key whose block scalar lines follow
    in_pem = False
    for line in text.splitlines(keepends=True):
        body, newline = (line[:-1], "\n") if line.endswith("\n") else (line, "")
        content = body[1:] if body[:1] in " +-" else body
        indent = len(content) - len(content.lstrip())
        if block_indent is not None:
            if content.strip() and indent > block_indent:
                out.append(body[: len(body) - len(content.lstrip())] + REDACTED + newline)
                continue
            block_indent = None
        if in_pem:
            out.append(body[: len(body) - len(content.lstrip())] + REDACTED + newline)
            in_pem = not _PEM_END.search(body)
            continue
        if _PEM_BEGIN.search(body) and not _PEM_END.search(body):
            in_pem = True
            out.append(line)
            continue
        match = _LINE.match(body)
        if match and is_secret_key(match.group("key")) and match.group("rest").strip():
            value = match.group("rest").strip()
            if value in ("|", "|-", ">", ">-"):
                block_indent = indent
                out.append(line)
            else:
                out.append(f"{match.group('lead')}{match.group('key')}: {REDACTED}{newline}")
            continue
        out.append(line)
    return "".join(out)
