"""CiliumNetworkPolicies: namespace-scoped zero-trust policies, observed or enforced."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..base import Settings


class NetworkPoliciesSettings(Settings):
    network_policies_enabled: bool = Field(False, description="Deploy CiliumNetworkPolicies for the cluster's namespaces.")
    network_policies_mode: Literal["audit", "enforce"] = Field(
        "audit", description="audit: log would-be drops (watch them with Hubble); enforce: drop the traffic.")
