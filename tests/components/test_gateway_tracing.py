"""The gateways' proxies trace requests into Tempo when tracing is on: `tracing_sample_rate` percent
of the requests that arrive without a sampling decision."""

from __future__ import annotations

import pytest

from tests.components.test_platform import TRACING, Renderer, document, initialized_copy

ENVOY_PROXY = "kubernetes/apps/network/envoy-gateway/config/envoyproxy.yaml"


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> Renderer:
    return Renderer(initialized_copy(tmp_path_factory.mktemp("gateway-tracing") / "repo"))


def test_without_tracing_the_proxies_send_no_spans(render):
    assert "tracing" not in document(render({}), ENVOY_PROXY, "EnvoyProxy")["spec"]["telemetry"]


def test_with_tracing_the_proxies_send_the_configured_share_to_tempo(render):
    spec = document(render({**TRACING, "tracing_sample_rate": 25}), ENVOY_PROXY, "EnvoyProxy")["spec"]
    tracing = spec["telemetry"]["tracing"]
    assert tracing["samplingRate"] == 25
    assert tracing["provider"]["type"] == "Zipkin"
    assert tracing["provider"]["backendRefs"] == [{"name": "tempo", "namespace": "monitoring", "port": 9411}]
