"""Observability: kube-prometheus-stack (Prometheus, Grafana, Alertmanager), Hubble, Loki + Alloy
and Tempo, plus the storage class the optional components default to."""

from __future__ import annotations

from pydantic import Field

from ..base import Settings, rule
from ..types import Subdomain, secret
from ._shared import Retention, StorageSize, needs, requires_values


class ObservabilitySettings(Settings):
    storage_class: str | None = Field(
        None, min_length=1,
        description="Storage class for the persistent volumes of optional components. Unset: the cluster default.")

    # -- metrics: kube-prometheus-stack -----------------------------------------------------
    monitoring_enabled: bool = Field(
        False, description="Deploy kube-prometheus-stack (Prometheus, Grafana, Alertmanager).")
    metrics_retention: Retention = Field("7d", description="How long Prometheus keeps metrics (e.g. 7d, 48h, 2w).")
    metrics_storage_size: StorageSize = Field("50Gi", description="Prometheus volume size.")
    monitoring_alerts_enabled: bool = Field(True, description="Deploy the node and cluster alert rules.")
    node_cpu_threshold: int = Field(90, ge=50, le=99, description="Node CPU usage alert threshold, in percent.")
    node_memory_threshold: int = Field(90, ge=50, le=99, description="Node memory usage alert threshold, in percent.")

    # -- Grafana ----------------------------------------------------------------------------
    grafana_subdomain: Subdomain = Field("grafana", description="Grafana is served at <grafana_subdomain>.<cloudflare_domain>.")
    grafana_admin_user: str = Field("admin", min_length=1, description="Grafana administrator login.")
    grafana_admin_password: str | None = secret(
        None, min_length=8, description="Grafana administrator password (8+ characters); required with monitoring.")
    grafana_oidc_enabled: bool = Field(
        False, description="Sign in to Grafana through Keycloak (needs monitoring, Keycloak and the client secret).")
    grafana_oidc_client_secret: str | None = secret(
        None, min_length=1, description="Client secret of the Grafana client in Keycloak.")

    # -- Hubble -----------------------------------------------------------------------------
    hubble_enabled: bool = Field(False, description="Enable Cilium Hubble network flow observability.")
    hubble_ui_enabled: bool = Field(False, description="Also deploy the Hubble web UI (needs hubble_enabled).")

    # -- logs: Loki + Alloy -----------------------------------------------------------------
    loki_enabled: bool = Field(False, description="Deploy Loki with Alloy to collect and store logs.")
    logs_retention: Retention = Field("7d", description="How long Loki keeps logs.")
    logs_storage_size: StorageSize = Field("50Gi", description="Loki volume size (single-binary mode).")
    loki_monitoring_enabled: bool = Field(
        False, description="Deploy the Loki stack monitoring dashboard (needs monitoring_enabled).")

    # -- traces: Tempo ----------------------------------------------------------------------
    tracing_enabled: bool = Field(False, description="Deploy Tempo to receive OpenTelemetry traces.")
    tracing_sample_rate: int = Field(
        10, ge=1, le=100, description="Share of requests through the gateways traced (sent to Tempo), in percent.")
    trace_retention: str = Field("72h", pattern=r"^[0-9]+[hd]$", description="How long Tempo keeps traces (e.g. 72h, 7d).")
    trace_storage_size: StorageSize = Field("10Gi", description="Tempo volume size.")


@rule
def monitoring_needs_admin_password(config, nodes):
    if config.monitoring_enabled:
        yield from requires_values(config, ("grafana_admin_password",), "monitoring_enabled is true")


@rule
def observability_flag_prerequisites(config, nodes):
    yield from needs(config, "hubble_ui_enabled", {"hubble_enabled": "the UI reads Hubble Relay"})
    yield from needs(config, "loki_monitoring_enabled", {
        "loki_enabled": "it is Loki's dashboard",
        "monitoring_enabled": "the dashboard is loaded into Grafana",
    })


@rule
def grafana_oidc_prerequisites(config, nodes):
    yield from needs(config, "grafana_oidc_enabled", {
        "monitoring_enabled": "Grafana is part of the monitoring stack",
        "keycloak_enabled": "Keycloak is the identity provider",
    })
    if config.grafana_oidc_enabled:
        yield from requires_values(config, ("grafana_oidc_client_secret",), "grafana_oidc_enabled is true")
