"""The `talosconfig` client file, as `talosctl gen config` writes it (talhelper's endpoints and nodes).

```yaml
context: <clusterName>
contexts:
    <clusterName>:
        endpoints: [<controller IPs>]    # apid servers talosctl connects to
        nodes: [<every node IP>]         # default targets for -n
        ca: <certs.os.crt of the bundle>
        crt: <admin client certificate>  # O=os:admin, signed by the OS (Talos API) CA
        key: <its private key>           # Ed25519 (same kind as the OS CA), "ED25519 PRIVATE KEY"
```

The admin certificate is valid from `now` for `ttl` (one year by default, as Talos). `now` is an
argument so callers decide the clock and tests stay deterministic in their validity window; the key
and serial are still random, so two calls give different certificates.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from . import pki
from .secrets import SecretsBundle
from .talconfig import TalConfig, parse_talconfig
from .yamlio import dump_document

ADMIN_ROLE = "os:admin"
DEFAULT_CERTIFICATE_TTL = timedelta(hours=24 * 365)  # constants.TalosAPIDefaultCertificateValidityDuration


def render_talosconfig(
    bundle: SecretsBundle,
    talconfig: Mapping[str, Any] | TalConfig,
    now: datetime,
    *,
    ttl: timedelta = DEFAULT_CERTIFICATE_TTL,
    roles: tuple[str, ...] = (ADMIN_ROLE,),
    source: str = "talconfig.yaml",
) -> str:
    """The talosconfig text: one context named after the cluster, with a fresh client certificate.

    `now` must be timezone-aware; it becomes the certificate's NotBefore (NotAfter = now + ttl).
    """
    if now.tzinfo is None:
        raise ValueError("`now` must be a timezone-aware datetime")
    config = talconfig if isinstance(talconfig, TalConfig) else parse_talconfig(talconfig, source=source)
    client = pki.new_client_certificate(bundle.os.as_pem_pair(), roles, now, ttl)
    endpoints = [address for node in config.controllers for address in node.ip_addresses]
    nodes = [address for node in config.nodes for address in node.ip_addresses]
    context: dict[str, Any] = {"endpoints": endpoints}
    if nodes:
        context["nodes"] = nodes
    context.update({"ca": bundle.os.crt, "crt": pki.b64encode(client.crt), "key": pki.b64encode(client.key)})
    return dump_document({"context": config.cluster_name, "contexts": {config.cluster_name: context}})
