"""Platform parity with the seed (issue 19): every platform component observable, a gateway tuned for
real traffic, availability on more than one node, Cilium BGP authentication and ECMP.

One end-to-end run (`inv configure --yes` with every platform component on, then `validate_tree`)
shows that the whole render validates and carries a scrape target and the dashboards for each
component; the rest renders in-process and checks one scope item per test, each against the
setting that turns it off, so removing an item fails its test.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest

from cluster_template.dashboards import DashboardError, grafana_dashboard
from cluster_template.run import Executor
from cluster_template.validate import validate_tree
from tests.components.test_platform import (
    HUBBLE,
    LOKI,
    LOKI_S3,
    MONITORING,
    NETWORK_POLICIES,
    RUSTFS,
    TRACING,
    Renderer,
    cluster_yaml,
    document,
    documents,
    initialized_copy,
    values,
)
from tests.conftest import SCHEMA_DIR

UNIFI = {"unifi_host": "https://192.168.1.1", "unifi_api_key": "unifi-key"}
PLATFORM = {**MONITORING, **HUBBLE, **LOKI, "loki_monitoring_enabled": True, **TRACING, **RUSTFS, **LOKI_S3,
            **NETWORK_POLICIES, "network_policies_mode": "enforce", "spegel_enabled": True, **UNIFI}
BGP = {"cilium_bgp_router_addr": "192.168.1.1", "cilium_bgp_router_asn": 64513, "cilium_bgp_node_asn": 64514}

APPS = "kubernetes/apps"
CILIUM_HR = f"{APPS}/kube-system/cilium/app/helmrelease.yaml"
CILIUM_NETWORKS = f"{APPS}/kube-system/cilium/app/networks.yaml"
CILIUM_SECRET = f"{APPS}/kube-system/cilium/app/secret.sops.yaml"
COREDNS_HR = f"{APPS}/kube-system/coredns/app/helmrelease.yaml"
SPEGEL_HR = f"{APPS}/kube-system/spegel/app/helmrelease.yaml"
CERT_MANAGER_HR = f"{APPS}/cert-manager/cert-manager/app/helmrelease.yaml"
CLOUDFLARE_DNS_HR = f"{APPS}/network/cloudflare-dns/app/helmrelease.yaml"
UNIFI_DNS_HR = f"{APPS}/network/unifi-dns/app/helmrelease.yaml"
TUNNEL_HR = f"{APPS}/network/cloudflare-tunnel/app/helmrelease.yaml"
ENVOY_PODMONITOR = f"{APPS}/network/envoy-gateway/app/podmonitor.yaml"
ENVOY_CONFIG = f"{APPS}/network/envoy-gateway/config"
FLUX_OPERATOR_HR = f"{APPS}/flux-system/flux-operator/app/helmrelease.yaml"
FLUX_INSTANCE_HR = f"{APPS}/flux-system/flux-instance/app/helmrelease.yaml"
FLUX_PODMONITOR = f"{APPS}/flux-system/flux-instance/app/podmonitor.yaml"
KPS_HR = f"{APPS}/monitoring/kube-prometheus-stack/app/helmrelease.yaml"
ALLOY_HR = f"{APPS}/monitoring/alloy/app/helmrelease.yaml"
TEMPO_HR = f"{APPS}/monitoring/tempo/app/helmrelease.yaml"
LOKI_HR = f"{APPS}/monitoring/loki/app/helmrelease.yaml"
ROUTER_BGP = "bootstrap/unifi-bgp.conf"

# The dashboards we render ourselves: file -> ConfigMap name.
OWN_DASHBOARDS = {
    f"{APPS}/flux-system/flux-instance/app/dashboard.yaml": "flux-dashboard",
    f"{APPS}/cert-manager/cert-manager/app/dashboard.yaml": "cert-manager-dashboard",
    f"{APPS}/network/envoy-gateway/app/dashboard.yaml": "envoy-gateway-dashboard",
}


def scrape_targets(files: dict[str, bytes]) -> dict[str, bool]:
    """Per component of scope item 1: does the render scrape it (chart value or our own monitor)?"""
    cilium = values(files, CILIUM_HR)
    kps = values(files, KPS_HR) if KPS_HR in files else {}

    def monitor(path: str, kind: str, name: str) -> bool:
        return path in files and any(doc["kind"] == kind and doc["metadata"]["name"] == name
                                     for doc in documents(files, path))

    def chart(path: str, *keys: str) -> bool:
        node = values(files, path) if path in files else {}
        for key in keys:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        return node is True

    hubble = cilium.get("hubble", {})
    return {
        "cilium agent": chart(CILIUM_HR, "prometheus", "serviceMonitor", "enabled"),
        "cilium operator": chart(CILIUM_HR, "operator", "prometheus", "serviceMonitor", "enabled"),
        "hubble": hubble.get("metrics", {}).get("serviceMonitor", {}).get("enabled") is True
                  and hubble.get("relay", {}).get("prometheus", {}).get("serviceMonitor", {}).get("enabled") is True,
        "coredns": kps.get("coreDns", {}).get("enabled") is True,
        "spegel": chart(SPEGEL_HR, "serviceMonitor", "enabled"),
        "cert-manager": chart(CERT_MANAGER_HR, "prometheus", "servicemonitor", "enabled"),
        "external-dns cloudflare": chart(CLOUDFLARE_DNS_HR, "serviceMonitor", "enabled"),
        "external-dns unifi": chart(UNIFI_DNS_HR, "serviceMonitor", "enabled"),
        "cloudflared": bool(values(files, TUNNEL_HR).get("serviceMonitor", {}).get("app", {}).get("endpoints")),
        "envoy gateway": monitor(ENVOY_PODMONITOR, "PodMonitor", "envoy-gateway"),
        "envoy proxies": monitor(ENVOY_PODMONITOR, "PodMonitor", "envoy-proxy"),
        "flux controllers": monitor(FLUX_PODMONITOR, "PodMonitor", "flux-controllers"),
        "flux operator": chart(FLUX_OPERATOR_HR, "serviceMonitor", "create"),
    }


def dashboards(files: dict[str, bytes]) -> dict[str, bool]:
    """Per dashboard family of scope item 1: is it rendered?"""
    cilium = values(files, CILIUM_HR)
    own = {name: path in files and document(files, path, "ConfigMap", name)["metadata"]["labels"]
           == {"grafana_dashboard": "1"} for path, name in OWN_DASHBOARDS.items()}
    return {
        **own,
        "cilium agent": cilium.get("dashboards", {}).get("enabled") is True,
        "cilium operator": cilium.get("operator", {}).get("dashboards", {}).get("enabled") is True,
        "hubble": cilium.get("hubble", {}).get("metrics", {}).get("dashboards", {}).get("enabled") is True,
        "spegel": values(files, SPEGEL_HR).get("grafanaDashboard", {}).get("create") is True,
    }


# -- end to end: every platform component on -----------------------------------------------------


@pytest.fixture(scope="module", params=["l2", "bgp"])
def configured(tmp_path_factory, request):
    """Every platform component on; with L2 announcements, or with authenticated BGP."""
    settings = PLATFORM if request.param == "l2" else {
        **PLATFORM, **BGP, "cilium_bgp_password": "md5-secret", "cilium_bgp_graceful_restart": True}
    project = initialized_copy(tmp_path_factory.mktemp(f"parity-{request.param}") / "repo")
    project.write("cluster.yaml", cluster_yaml(project, settings))
    result = project.inv("configure", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    report = validate_tree(project.root, executor=Executor(), schema_dir=SCHEMA_DIR / "crds",
                           talos_schema=SCHEMA_DIR / "talos/config.schema.v1.12.11.json",
                           talconfig_schema=SCHEMA_DIR / "talhelper/talconfig.schema.json")
    return project.snapshot(), report, request.param


def test_full_platform_validates_with_a_scrape_target_and_dashboards_for_each_component(configured):
    files, report, mode = configured
    assert report.ok, "\n".join(str(issue) for issue in report.errors)
    assert {"PodMonitor", "BackendTrafficPolicy", "ClientTrafficPolicy", "ReferenceGrant"} <= set(report.counts)
    assert all(scrape_targets(files).values()), scrape_targets(files)
    assert all(dashboards(files).values()), dashboards(files)
    for path, name in OWN_DASHBOARDS.items():
        board = json.loads(document(files, path, "ConfigMap", name)["data"][name.removesuffix("-dashboard") + ".json"])
        assert board["panels"] and all(panel["targets"][0]["expr"] for panel in board["panels"])
    # Credentials only in sops files: the BGP password nowhere in plain text, its Secret encrypted.
    assert not [path for path, data in files.items() if b"md5-secret" in data and path != "cluster.yaml"]
    assert (CILIUM_SECRET in files) == (mode == "bgp")
    if mode == "bgp":
        assert b"ENC[AES256_GCM" in files[CILIUM_SECRET]
        assert {"CiliumBGPPeerConfig", "CiliumBGPClusterConfig"} <= set(report.counts)


# -- in-process renders ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> Renderer:
    return Renderer(initialized_copy(tmp_path_factory.mktemp("parity-render") / "repo"))


@contextmanager
def two_workers(render: Renderer):
    """nodes.yaml with a second worker (sample: one controller, one worker), restored afterwards."""
    nodes = render.project.root / "nodes.yaml"
    original = nodes.read_text()
    worker = original[original.index('  - name: "k8s-1"'):]
    nodes.write_text(original + worker.replace("k8s-1", "k8s-2").replace("192.168.1.11", "192.168.1.12")
                     .replace("bc:24:11:00:00:11", "bc:24:11:00:00:12"))
    try:
        yield render
    finally:
        nodes.write_text(original)


def test_item1_nothing_is_scraped_or_dashboarded_without_monitoring(render):
    files = render({key: value for key, value in PLATFORM.items() if key not in MONITORING
                    and key != "loki_monitoring_enabled"})
    assert not any(scrape_targets(files).values()), scrape_targets(files)
    assert not any(dashboards(files).values()), dashboards(files)


def test_item1_grafana_keeps_its_database_on_the_storage_class(render):
    grafana = values(render({**MONITORING, "storage_class": "ceph-block"}), KPS_HR)["grafana"]
    assert grafana["persistence"] == {"enabled": True, "type": "pvc", "storageClassName": "ceph-block",
                                      "accessModes": ["ReadWriteOnce"], "size": "5Gi"}
    # A ReadWriteOnce volume: the old pod must release it before the new one starts.
    assert grafana["deploymentStrategy"] == {"type": "Recreate"}


def test_item1_proxies_are_labelled_with_their_gateway(render):
    proxy = document(render(MONITORING), ENVOY_PODMONITOR, "PodMonitor", "envoy-proxy")
    endpoint = proxy["spec"]["podMetricsEndpoints"][0]
    assert endpoint["path"] == "/stats/prometheus"
    assert endpoint["relabelings"][0]["targetLabel"] == "gateway"


def test_dashboard_filter_lays_out_panels_and_refuses_malformed_ones():
    board = json.loads(grafana_dashboard([{"title": f"p{n}", "queries": [["up", "{{pod}}"]]} for n in range(3)],
                                         "x", "X", ["t"]))
    assert [panel["gridPos"]["x"] for panel in board["panels"]] == [0, 12, 0]
    assert [panel["gridPos"]["y"] for panel in board["panels"]] == [0, 0, 8]
    # A logs panel takes a row of its own and queries Loki.
    board = json.loads(grafana_dashboard([{"title": "a", "queries": [["up", "x"]]},
                                          {"title": "b", "type": "logs", "datasource": "loki",
                                           "queries": [["{job=~\".+\"}", ""]]},
                                          {"title": "c", "queries": [["up", "x"]]}], "x", "X", []))
    assert [(panel["gridPos"]["x"], panel["gridPos"]["y"], panel["gridPos"]["w"]) for panel in board["panels"]] == [
        (0, 0, 12), (0, 8, 24), (0, 16, 12)]
    assert board["panels"][1]["datasource"] == {"type": "loki", "uid": "loki"}
    assert "legendFormat" not in board["panels"][1]["targets"][0]
    for bad in ([], [{"title": "t"}], [{"title": "t", "queries": [["up"]]}],
                [{"title": "t", "queries": [["up", "l"]], "type": "pie"}],
                [{"title": "t", "queries": [["up", "l"]], "colour": "red"}],
                [{"title": "t", "queries": [["up", "l"]], "datasource": "tempo"}],
                [{"title": "t", "queries": [["up", "l"]], "width": 25}],
                [{"title": "t", "queries": [["up", "l"]], "width": "6"}],
                [{"title": "t", "queries": [["up", "l"]], "thresholds": [["1", "red"]]}],
                [{"title": "t", "queries": [["up", "l"]], "thresholds": [[5, "orange"], [1, "red"]]}],
                [{"title": "t", "queries": [["up", "l"]], "thresholds": []}],
                [{"title": "t", "queries": [["up", "l"]], "thresholds": 1}],
                [{"title": "t", "queries": [["up", "l"]], "thresholds": [1, "red"]}],
                [{"title": "t", "queries": [["up{namespace=~\"$namespace\"}", "l"]]}]):
        with pytest.raises(DashboardError):
            grafana_dashboard(bad, "x", "X", [])


def test_dashboard_filter_widths_thresholds_and_variables():
    board = json.loads(grafana_dashboard(
        [{"title": "s", "type": "stat", "width": 6, "thresholds": [[1, "orange"], [3, "red"]],
          "queries": [["sum(up{namespace=~\"$namespace\"})", ""]]},
         {"title": "wide", "width": 18, "queries": [["sum by (pod) (rate(x{namespace=~\"${namespace}\"}[$__rate_interval]))",
                                                      "{{pod}}"]]},
         {"title": "next row", "queries": [["up", "u"]]}],
        "x", "X", [], [{"name": "namespace", "query": "label_values(up, namespace)"}]))
    # A row is as tall as its tallest panel; a stat is half a graph's height.
    assert [panel["gridPos"] for panel in board["panels"]] == [
        {"x": 0, "y": 0, "w": 6, "h": 4}, {"x": 6, "y": 0, "w": 18, "h": 8}, {"x": 0, "y": 8, "w": 12, "h": 8}]
    assert board["panels"][0]["fieldConfig"]["defaults"]["thresholds"] == {"mode": "absolute", "steps": [
        {"color": "green", "value": None}, {"color": "orange", "value": 1}, {"color": "red", "value": 3}]}
    assert "thresholds" not in board["panels"][1]["fieldConfig"]["defaults"]
    [variable] = board["templating"]["list"]
    assert (variable["name"], variable["query"], variable["multi"], variable["includeAll"], variable["refresh"]) == (
        "namespace", "label_values(up, namespace)", True, True, 1)
    assert "templating" not in json.loads(grafana_dashboard([{"title": "t", "queries": [["up", ""]]}], "y", "Y", []))
    for bad in ([{"name": "namespace"}], [{"name": "1st", "query": "q"}],
                [{"name": "a", "query": "q"}, {"name": "a", "query": "r"}]):
        with pytest.raises(DashboardError):
            grafana_dashboard([{"title": "t", "queries": [["up", ""]]}], "x", "X", [], bad)


def _alloy_config(files: dict[str, bytes]) -> str:
    return values(files, ALLOY_HR)["alloy"]["configMap"]["content"]


def test_item2_alloy_receives_otlp_and_forwards_to_each_backend_that_is_on(render):
    files = render({**LOKI, **MONITORING, **TRACING})
    config = _alloy_config(files)
    assert 'otelcol.receiver.otlp "default"' in config
    assert '"0.0.0.0:4317"' in config and '"0.0.0.0:4318"' in config
    assert "metrics = [otelcol.exporter.otlphttp.prometheus.input]" in config
    assert "/api/v1/otlp" in config
    assert "traces  = [otelcol.exporter.otlp.tempo.input]" in config
    assert "tempo.monitoring.svc.cluster.local:4317" in config
    assert {(port["name"], port["port"]) for port in values(files, ALLOY_HR)["alloy"]["extraPorts"]} == {
        ("otlp-grpc", 4317), ("otlp-http", 4318)}
    # Logs only: no exporter points at a backend that is not there.
    config = _alloy_config(render(LOKI))
    assert "otelcol.exporter.loki" in config
    assert "otlphttp" not in config and "tempo" not in config


def test_item2_tempo_accepts_zipkin(render):
    files = render({**TRACING, **NETWORK_POLICIES})
    assert values(files, TEMPO_HR)["tempo"]["receivers"]["zipkin"] == {"endpoint": "0.0.0.0:9411"}
    policy = document(files, f"{APPS}/monitoring/network-policies/app/tempo.yaml", "CiliumNetworkPolicy", "tempo")
    assert {"port": "9411", "protocol": "TCP"} in policy["spec"]["ingress"][0]["toPorts"][0]["ports"]


def test_item2_alloy_otlp_ports_are_open_to_the_cluster(render):
    files = render({**LOKI, **NETWORK_POLICIES})
    policy = document(files, f"{APPS}/monitoring/network-policies/app/alloy.yaml", "CiliumNetworkPolicy", "alloy")
    assert [port["port"] for port in policy["spec"]["ingress"][0]["toPorts"][0]["ports"]] == ["4317", "4318"]


def test_item3_backend_traffic_policy_for_streaming(render):
    files = render({})
    assert "./backendtrafficpolicy.yaml" in documents(files, f"{ENVOY_CONFIG}/kustomization.yaml")[0]["resources"]
    policy = document(files, f"{ENVOY_CONFIG}/backendtrafficpolicy.yaml", "BackendTrafficPolicy")["spec"]
    assert [entry["type"] for entry in policy["compression"]] == ["Brotli", "Gzip"]
    assert policy["timeout"]["http"]["requestTimeout"] == "0s"
    assert policy["connection"]["bufferLimit"] == "8Mi"


def test_item3_client_traffic_policy_http3_and_http2_windows(render):
    files = render(NETWORK_POLICIES)
    policy = document(files, f"{ENVOY_CONFIG}/policies.yaml", "ClientTrafficPolicy")["spec"]
    assert policy["http3"] == {}
    assert policy["http2"]["initialStreamWindowSize"] == "1Mi"
    assert policy["http2"]["initialConnectionWindowSize"] == "16Mi"
    # QUIC reaches the proxies.
    proxies = document(files, f"{APPS}/network/network-policies/app/gateways.yaml", "CiliumNetworkPolicy",
                       "envoy-proxies")
    assert {"port": "10443", "protocol": "UDP"} in proxies["spec"]["ingress"][0]["toPorts"][0]["ports"]


def test_item3_two_proxies_with_a_pdb_only_with_two_schedulable_nodes(render):
    def deployment(files):
        return document(files, f"{ENVOY_CONFIG}/envoyproxy.yaml", "EnvoyProxy")["spec"]["provider"]["kubernetes"]

    single = deployment(render({}))  # sample: one controller, one worker
    assert single["envoyDeployment"]["replicas"] == 1 and "envoyPDB" not in single
    with two_workers(render) as rendered:
        double = deployment(rendered({}))
    assert double["envoyDeployment"]["replicas"] == 2 and double["envoyPDB"] == {"minAvailable": 1}


def test_item3_json_access_log_and_tracing_to_tempo(render):
    telemetry = document(render({}), f"{ENVOY_CONFIG}/envoyproxy.yaml", "EnvoyProxy")["spec"]["telemetry"]
    log = telemetry["accessLog"]["settings"][0]
    assert log["format"]["type"] == "JSON" and log["format"]["json"]["response_code"] == "%RESPONSE_CODE%"
    assert log["sinks"] == [{"type": "File", "file": {"path": "/dev/stdout"}}]
    assert "tracing" not in telemetry
    files = render({**TRACING, "tracing_sample_rate": 25})
    tracing = document(files, f"{ENVOY_CONFIG}/envoyproxy.yaml", "EnvoyProxy")["spec"]["telemetry"]["tracing"]
    assert tracing["samplingRate"] == 25
    assert tracing["provider"]["type"] == "Zipkin"
    assert tracing["provider"]["backendRefs"] == [{"name": "tempo", "namespace": "monitoring", "port": 9411}]
    grant = document(files, f"{APPS}/monitoring/tempo/app/referencegrant.yaml", "ReferenceGrant")["spec"]
    assert grant["from"] == [{"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "namespace": "network"}]


def test_item3_internal_gateway_has_the_external_dns_target(render):
    files = render({})
    gateway = document(files, f"{ENVOY_CONFIG}/gateways.yaml", "Gateway", "envoy-internal")
    address = document(files, f"{ENVOY_CONFIG}/gateways.yaml", "Gateway", "envoy-internal")["spec"][
        "infrastructure"]["annotations"]["lbipam.cilium.io/ips"]
    assert gateway["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/target"] == address


def test_item4_coredns_two_replicas_and_pdb_on_any_two_nodes(render):
    # The sample has one controller and one worker: one schedulable node, two nodes.
    coredns = values(render({}), COREDNS_HR)
    assert coredns["replicaCount"] == 2 and coredns["podDisruptionBudget"] == {"minAvailable": 1}
    assert {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"} \
        in coredns["tolerations"]


def test_item4_loki_simple_scalable_runs_two_of_each(render):
    with two_workers(render) as rendered:
        loki = values(rendered({**LOKI, **RUSTFS, **LOKI_S3}), LOKI_HR)
    assert [loki[target]["replicas"] for target in ("read", "write", "backend")] == [2, 2, 2]


def test_item4_flux_controllers_are_tuned(render):
    instance = values(render({}), FLUX_INSTANCE_HR)["instance"]
    patches: dict[str, list[str]] = {}
    for patch in instance["kustomize"]["patches"]:
        patches.setdefault(patch["target"]["name"], []).append(patch["patch"])
    tuned = "\n".join(patches["(kustomize-controller|helm-controller|source-controller)"])
    assert "value: --concurrent=10" in tuned and "memory: 1Gi" in tuned
    assert "--feature-gates=OOMWatch=true" in "".join(patches["helm-controller"])
    assert "--helm-cache-max-size=10" in "".join(patches["source-controller"])


def test_item5_bgp_password_is_sealed_and_wired(render):
    files = render({**BGP, "cilium_bgp_password": "md5-secret"})
    peer = document(files, CILIUM_NETWORKS, "CiliumBGPPeerConfig")
    assert peer["spec"]["authSecretRef"] == "bgp-peer-password"
    secret = document(files, CILIUM_SECRET, "Secret", "bgp-peer-password")
    assert secret["stringData"] == {"password": "md5-secret"}
    assert "./secret.sops.yaml" in documents(files, f"{APPS}/kube-system/cilium/app/kustomization.yaml")[0]["resources"]
    # The router configuration names the password's home, never the password.
    assert "md5-secret" not in files[ROUTER_BGP].decode()
    files = render(BGP)
    assert "authSecretRef" not in document(files, CILIUM_NETWORKS, "CiliumBGPPeerConfig")["spec"]
    assert CILIUM_SECRET not in files


def test_item5_bgp_password_without_bgp_is_refused(render):
    with pytest.raises(Exception, match="cilium_bgp_password: requires Cilium BGP"):
        render({"cilium_bgp_password": "md5-secret"})


def test_item5_graceful_restart_and_ecmp_reach_both_ends(render):
    files = render({**BGP, "cilium_bgp_graceful_restart": True, "cilium_bgp_graceful_restart_time": 90,
                    "cilium_bgp_ecmp_max_paths": 4})
    peer = document(files, CILIUM_NETWORKS, "CiliumBGPPeerConfig")["spec"]
    assert peer["gracefulRestart"] == {"enabled": True, "restartTimeSeconds": 90}
    router = files[ROUTER_BGP].decode()
    assert "  maximum-paths 4\n" in router and "  neighbor TALOS graceful-restart\n" in router
    assert "  neighbor 192.168.1.10 peer-group TALOS\n" in router
    assert "maximum-paths 3\n" in render(BGP)[ROUTER_BGP].decode()
    assert ROUTER_BGP not in render({})


def test_item5_l2_announcement_policy_uses_the_served_version(render):
    files = render({})
    policy = [doc for doc in documents(files, CILIUM_NETWORKS) if doc["kind"] == "CiliumL2AnnouncementPolicy"]
    assert [doc["apiVersion"] for doc in policy] == ["cilium.io/v2alpha1"]
    # The validator checks it against the vendored schema of that version.
    assert (SCHEMA_DIR / "crds/cilium.io/ciliuml2announcementpolicy_v2alpha1.json").is_file()
    assert not (SCHEMA_DIR / "crds/cilium.io/ciliuml2announcementpolicy_v2.json").exists()
