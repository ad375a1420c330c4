"""Reusable field types and field factories for the configuration model.

Values stay plain strings (an address is "192.168.1.10", not an `IPv4Address`), so the template
context and the JSON Schema see exactly what the user wrote; the validators only check the form.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema
from pydantic.json_schema import JsonDict

SECRET_MARK = "x-secret"
# The task that reads a key no template uses (shown in docs/CONFIGURATION.md as "read by: ...").
READ_BY_MARK = "x-read-by"


def _ipv4(value: str) -> str:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError(f"'{value}' is not an IPv4 address") from None
    return value


def _ipv4_cidr(value: str) -> str:
    try:
        network = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise ValueError(f"'{value}' is not an IPv4 network in CIDR form (like 192.168.1.0/24)") from None
    if "/" not in value:
        raise ValueError(f"'{value}' has no prefix length; did you mean {network.network_address}/24?")
    if str(network) != value:
        raise ValueError(f"'{value}' has host bits set; did you mean {network}?")
    return value


_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_FQDN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")


def _fqdn(value: str) -> str:
    if not _FQDN.match(value):
        raise ValueError(f"'{value}' is not a fully qualified lower-case domain name (like example.com)")
    return value


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(
            f"'{value}' is not a valid DNS label (lower-case letters, digits and '-', "
            f"1-63 characters, starting and ending with a letter or digit)"
        )
    return value


def _subdomain(value: str) -> str:
    if "." in value and all(_DNS_LABEL.match(part) for part in value.split(".")):
        raise ValueError(
            f"'{value}' has a dot: <subdomain>.<cloudflare_domain> must be covered by the gateways' wildcard "
            f"certificate *.<cloudflare_domain>, which matches one label only; write one label such as "
            f"'{value.replace('.', '-')}'")
    return _dns_label(value)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        if re.match(r"^[A-Za-z0-9.-]+(:\d+)?(/\S*)?$", value):
            # A bare host: guessing the scheme would either send credentials in clear or fail TLS.
            raise ValueError(f"'{value}' has no scheme; write http://{value} (plain HTTP, e.g. an "
                             f"in-cluster service) or https://{value}")
        raise ValueError(f"'{value}' is not an http(s) URL")
    return value


def _v_prefixed(value: object) -> object:
    # The seed writes versions without the leading v ("1.12.0"); Talos and Kubernetes tags have it.
    if isinstance(value, str) and re.match(r"^\d+\.\d+\.\d+$", value.strip()):
        return "v" + value.strip()
    return value


def release_version(series: str, pattern: str, example: str) -> Any:
    """A release version like `v1.12.11` within `series` (described in messages), written with or
    without the leading v; the value is always the v-prefixed form."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"'{value}' is not a {series} version (write it like {example} or {example[1:]})")
        return value

    return Annotated[str, BeforeValidator(_v_prefixed), AfterValidator(check),
                     WithJsonSchema({"type": "string", "pattern": pattern.replace("^v", "^v?", 1)})]


IPv4 = Annotated[str, AfterValidator(_ipv4), WithJsonSchema({"type": "string", "format": "ipv4"})]
IPv4CIDR = Annotated[
    str,
    AfterValidator(_ipv4_cidr),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$"}),
]
FQDN = Annotated[str, AfterValidator(_fqdn), WithJsonSchema({"type": "string", "format": "hostname"})]
DNSLabel = Annotated[str, AfterValidator(_dns_label), WithJsonSchema({"type": "string", "pattern": _DNS_LABEL.pattern})]
Subdomain = Annotated[str, AfterValidator(_subdomain), WithJsonSchema({"type": "string", "pattern": _DNS_LABEL.pattern})]
HttpURL = Annotated[str, AfterValidator(_http_url), WithJsonSchema({"type": "string", "format": "uri"})]
NonEmpty = Annotated[str, Field(min_length=1)]
ASN = Annotated[int, Field(ge=1, le=4294967295)]
KubeQuantity = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(m|[KMGTPE]i?|[kMGTPE])?$")]
Cron = Annotated[str, Field(pattern=r"^(@(yearly|monthly|weekly|daily|hourly)|([0-9*,/-]+\s+){4}[0-9*,/-]+)$")]


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_plain_text(value: Any, *, secret: bool = False) -> None:
    """ValueError for a string (or a string inside a list or mapping) that holds a control
    character or line break, or `${`, or is blank when `secret`. The message never shows a secret."""
    if isinstance(value, str):
        shown = "the value" if secret else repr(value)
        if _CONTROL.search(value):
            raise ValueError(f"{shown} contains a control character or line break; write it on one line "
                             f"without tabs or escapes")
        if "${" in value:
            raise ValueError(f"{shown} contains '${{', which Flux would replace with a cluster setting")
        if secret and not value.strip():
            raise ValueError("is blank (only whitespace); set the real credential or remove the key")
    elif isinstance(value, (list, tuple)):
        for item in value:
            check_plain_text(item, secret=secret)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_plain_text(key)
            check_plain_text(item, secret=secret)


def _git_branch(value: str) -> str:
    """The rules of `git check-ref-format --branch`, so Flux can check the branch out."""
    bad = (not value or value.startswith(("-", "/", ".")) or value.endswith(("/", ".", ".lock"))
           or value == "@" or any(part in value for part in ("..", "//", "@{", "/."))
           or re.search(r"[\x00-\x20\x7f~^:?*\[\\\"']", value) is not None)
    if bad:
        raise ValueError(f"{value!r} is not a valid git branch name (no spaces, quotes, ~ ^ : ? * [ \\, '..', "
                         f"'@{{', leading '-' or '/', trailing '/', '.' or '.lock')")
    return value


_DEVICE_PATH = re.compile(r"^/dev/[A-Za-z0-9][A-Za-z0-9/_.:+-]*$")
_DISK_SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:+-]*$")


def _install_disk(value: str) -> str:
    if value.startswith("/"):
        if not _DEVICE_PATH.match(value) or "/../" in value + "/":
            raise ValueError(f"{value!r} is not a device path like /dev/sda or /dev/disk/by-id/...")
    elif not _DISK_SERIAL.match(value):
        raise ValueError(f"{value!r} is neither a device path (/dev/...) nor a disk serial (letters, digits, "
                         f"'_', '.', ':', '+', '-'; from `talosctl get disks --insecure`)")
    return value


TOKEN_PATTERN = r"^[\x21\x23-\x26\x28-\x5b\x5d-\x7e]+$"

GitBranch = Annotated[str, AfterValidator(_git_branch), WithJsonSchema({"type": "string", "minLength": 1})]
InstallDisk = Annotated[str, AfterValidator(_install_disk), WithJsonSchema({"type": "string", "minLength": 1})]
KernelModule = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
# A PostgreSQL role or database name that needs no quoting in SQL, a URL or a Kubernetes name part.
PG_IDENTIFIER = r"^[a-z_][a-z0-9_]{0,62}$"
PgIdentifier = Annotated[str, Field(pattern=PG_IDENTIFIER)]
# An Azure resource's custom subdomain (<name>.openai.azure.com): letters, digits and hyphens.
AzureResourceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")]
# An API token: printable ASCII without whitespace, quotes or backslashes.
Token = Annotated[str, Field(pattern=TOKEN_PATTERN)]


def secret(default: Any = None, *, description: str, **kwargs: Any) -> Any:
    """A field whose value is a credential: encrypted in outputs and redacted everywhere else."""
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra[SECRET_MARK] = True
    return Field(default, description=description, json_schema_extra=extra, **kwargs)


def read_by(task: str) -> JsonDict:
    """`json_schema_extra` of a key only `task` reads (it changes no rendered file)."""
    return {READ_BY_MARK: task}


def reading_task(field_info: Any) -> str | None:
    extra = getattr(field_info, "json_schema_extra", None)
    return extra.get(READ_BY_MARK) if isinstance(extra, dict) else None


def is_secret_field(field_info: Any) -> bool:
    extra = getattr(field_info, "json_schema_extra", None)
    return isinstance(extra, dict) and bool(extra.get(SECRET_MARK))
