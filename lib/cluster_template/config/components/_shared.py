"""Field types and rule helpers shared by the component settings groups.

The rule helpers turn the seed's silent AND-gating ("the backup is on when RustFS is on and both
keys are set") into issues that name the missing prerequisite, in one wording everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from ..base import is_set

Issue = tuple[str, str]


def _number_as_text(value: Any) -> Any:
    # YAML reads `cpu: 4` as an int; Kubernetes quantities are strings, so accept both spellings.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


StorageSize = Annotated[str, Field(pattern=r"^[0-9]+[KMGT]i$")]
CpuQuantity = Annotated[str, BeforeValidator(_number_as_text), Field(pattern=r"^[0-9]+m?$")]
Retention = Annotated[str, Field(pattern=r"^[0-9]+[dhw]$")]
SemVer = Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")]
Slug = Annotated[str, Field(min_length=2, max_length=63, pattern=r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")]
Ratio = Annotated[float, Field(ge=0, le=1)]
# An S3 bucket name; rustfs-setup also puts these in a shell command line, so nothing else passes.
BUCKET = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
# Like the seed: any local part and host (admin@localhost is a valid address on a private mail host).
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+$"
Email = Annotated[str, Field(pattern=EMAIL_PATTERN)]
ImageRef = Annotated[
    str,
    Field(pattern=r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)+"
                  r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$"),
]


# Reasons reused by many components.
MONITORING = "its ServiceMonitor and dashboards need Prometheus and Grafana"
TRACING = "traces are sent to Tempo"


def requires_true(config: Any, key: str, prerequisites: Iterable[str], reason: str) -> Iterator[Issue]:
    """An issue on `key` for each prerequisite flag that is not true."""
    for prerequisite in prerequisites:
        if getattr(config, prerequisite) is not True:
            yield key, f"requires {prerequisite}: true ({reason})"


def needs(config: Any, flag: str, prerequisites: dict[str, str]) -> Iterator[Issue]:
    """When the boolean `flag` is true: an issue for each prerequisite flag (name -> reason) that is not."""
    if getattr(config, flag) is True:
        for prerequisite, reason in prerequisites.items():
            yield from requires_true(config, flag, (prerequisite,), reason)


def requires_values(config: Any, keys: Iterable[str], condition: str) -> Iterator[Issue]:
    """An issue on each of `keys` that is unset, saying when it is needed."""
    for key in keys:
        if not is_set(getattr(config, key)):
            yield key, f"is required when {condition}"


def all_set(config: Any, keys: Iterable[str]) -> bool:
    return all(is_set(getattr(config, key)) for key in keys)


def any_set(config: Any, keys: Iterable[str]) -> bool:
    return any(is_set(getattr(config, key)) for key in keys)


def credentials_need_rustfs(config: Any, pair: tuple[str, str], what: str) -> Iterator[Issue]:
    """RustFS access/secret keys whose presence turns a feature on need RustFS. Check them only
    while the owning component is enabled (keys of a disabled component are simply unused)."""
    if any_set(config, pair) and config.rustfs_enabled is not True:
        given = pair[0] if is_set(getattr(config, pair[0])) else pair[1]
        yield given, f"requires rustfs_enabled: true ({what} are RustFS credentials)"
