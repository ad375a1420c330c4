"""The guards through `inv configure`: a defect planted in a copy of the templates is refused with a
message naming the file and the cause, and nothing is written (the outputs of the previous run stay
byte for byte). Credentials appear neither in that message, nor in a `--dry` plan, nor in the
event log."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.components.test_platform import RUSTFS, cluster_yaml, initialized_copy
from tests.conftest import Project

pytestmark = pytest.mark.slow

TEMPLATES = "templates/config"
ECHO_APP = f"{TEMPLATES}/kubernetes/apps/default/echo/app"
DEFAULT_LIST = f"{TEMPLATES}/kubernetes/apps/default/kustomization.yaml.j2"
CLOUDFLARE_TOKEN = "replace-me-with-your-cloudflare-api-token"  # the sample's, a secret key
TUNNEL_SECRET = "ZGVtby10dW5uZWwtc2VjcmV0LW5vdC1mb3ItcHJvZHVjdGlvbg=="  # the sample tunnel file's


def replace(project: Project, rel: str, old: str, new: str) -> None:
    path = project.root / rel
    text = path.read_text()
    assert old in text, f"{old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1))


def add_to_echo(project: Project, name: str, text: str) -> None:
    """A new template in the echo app, listed in its kustomization."""
    project.write(f"{ECHO_APP}/{name}.j2", text)
    replace(project, f"{ECHO_APP}/kustomization.yaml.j2", "  - ./helmrelease.yaml\n",
            f"  - ./helmrelease.yaml\n  - ./{name}\n")


def configmap(line: str) -> str:
    return f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: echo-settings\ndata:\n{line}\n"


def job(image: str) -> str:
    return (f"---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: echo-check\nspec:\n  template:\n"
            f"    spec:\n      restartPolicy: Never\n      containers:\n        - name: check\n"
            f"          image: {image}\n")


ORPHAN_KS = """---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: orphan
spec:
  interval: 1h
  path: ./kubernetes/apps/default/orphan/app
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
    namespace: flux-system
  targetNamespace: default
"""


def plant_orphan_folder(project: Project) -> None:
    """The seed's network-policy mistake: a Kustomization and its folder that no list names."""
    base = f"{TEMPLATES}/kubernetes/apps/default/orphan"
    project.write(f"{base}/ks.yaml.j2", ORPHAN_KS)
    project.write(f"{base}/app/kustomization.yaml.j2", "---\napiVersion: kustomize.config.k8s.io/v1beta1\n"
                                                       "kind: Kustomization\nresources:\n  - ./configmap.yaml\n")
    project.write(f"{base}/app/configmap.yaml.j2", configmap("  a: b").replace("echo-settings", "orphan"))


@dataclass(frozen=True)
class Defect:
    plant: object  # (project) -> None
    file: str      # the rendered file the message must name
    causes: tuple[str, ...]
    settings: tuple[tuple[str, object], ...] = ()


DEFECTS = {
    "secret in a ConfigMap": Defect(
        lambda p: add_to_echo(p, "configmap.yaml", configmap("  token: #{ cloudflare_token | yaml_quote }#")),
        "kubernetes/apps/default/echo/app/configmap.yaml",
        ("ConfigMap echo-settings", "line 7", "a credential from the configuration (as written)",
         "sops does not encrypt")),
    "base64 of a secret in a ConfigMap": Defect(
        lambda p: add_to_echo(p, "configmap.yaml", configmap(
            "  auth: #{ ('user:' ~ cloudflare_token) | b64encode }#")),
        "kubernetes/apps/default/echo/app/configmap.yaml", ("(base64-encoded)", "sops does not encrypt")),
    "the tunnel's raw TunnelSecret": Defect(
        # As a template that copied cloudflare-tunnel.json into a ConfigMap would have it.
        lambda p: add_to_echo(p, "configmap.yaml", configmap(f"  credentials.json: '{{\"TunnelSecret\": \"{TUNNEL_SECRET}\"}}'")),
        "kubernetes/apps/default/echo/app/configmap.yaml", ("(as written)", "sops does not encrypt")),
    "OCIRepository at latest": Defect(
        lambda p: replace(p, f"{TEMPLATES}/kubernetes/apps/network/envoy-gateway/app/ocirepository.yaml.j2",
                          "tag: 1.9.0", "tag: latest"),
        "kubernetes/apps/network/envoy-gateway/app/ocirepository.yaml",
        ("OCIRepository network/envoy-gateway", "spec.ref.tag", "'latest' is not an exact version")),
    "HelmRelease chart at *": Defect(
        lambda p: replace(p, f"{TEMPLATES}/kubernetes/apps/storage/rustfs/app/helmrelease.yaml.j2",
                          "version: 1.0.0-rc.3", 'version: "*"'),
        "kubernetes/apps/storage/rustfs/app/helmrelease.yaml",
        ("HelmRelease storage/rustfs", "spec.chart.spec.version", "chart 'rustfs' '*' is not an exact version"),
        tuple(RUSTFS.items())),
    "image without a tag": Defect(
        lambda p: add_to_echo(p, "job.yaml", job("ghcr.io/example/check")),
        "kubernetes/apps/default/echo/app/job.yaml",
        ("Job default/echo-check", "spec.template.spec.containers[0].image",
         "image 'ghcr.io/example/check' has no tag")),
    "a Kustomization folder nothing references": Defect(
        plant_orphan_folder, "kubernetes/apps/default/orphan/ks.yaml", ("dead file: Flux never applies it",)),
    "${UNDEFINED} in a post-build document": Defect(
        lambda p: add_to_echo(p, "configmap.yaml", configmap('  greeting: "hello ${UNDEFINED_GREETING}"')),
        "kubernetes/apps/default/echo/app/configmap.yaml", ("UNDEFINED_GREETING",)),
}


def outputs_of(project: Project) -> dict[str, bytes]:
    return {path: data for path, data in project.snapshot().items() if not path.startswith(".inv/")}


@pytest.fixture
def configured(tmp_path: Path):
    """A copy configured once: the outputs a refused run must leave alone."""
    def make(settings: dict[str, object]) -> Project:
        project = initialized_copy(tmp_path / "repo")
        project.write("cluster.yaml", cluster_yaml(project, settings))
        result = project.inv("configure", "--yes")
        assert result.returncode == 0, result.stdout + result.stderr
        return project
    return make


def secret_forms(*values: str) -> list[str]:
    return [form for value in values for form in (value, base64.b64encode(value.encode()).decode())]


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_a_planted_defect_is_refused_and_nothing_is_written(configured, tmp_path, name):
    defect = DEFECTS[name]
    project = configured(dict(defect.settings))
    before = outputs_of(project)
    defect.plant(project)
    log = tmp_path / "events.jsonl"
    result = project.inv("configure", "--yes", env={"CLUSTER_TEMPLATE_EVENT_LOG": str(log)})
    message = result.stdout + result.stderr
    assert result.returncode != 0, message
    assert "Traceback" not in message and "nothing was changed" in message
    lines = [line for line in message.splitlines() if defect.file in line]
    assert lines, message
    for cause in defect.causes:
        assert any(cause in line for line in lines), (cause, message)
    assert outputs_of(project) == before
    logged = log.read_text() if log.exists() else ""
    for form in secret_forms(CLOUDFLARE_TOKEN, TUNNEL_SECRET):
        assert form not in message and form not in logged


def test_the_dry_plan_and_the_event_log_hold_no_credential(tmp_path):
    """`inv --dry configure` lists the plan; the plaintext it rendered (every secret of the sample and of
    the components on) is never in it, nor in the event log, in clear or base64."""
    project = initialized_copy(tmp_path / "repo")
    settings = {**RUSTFS, "monitoring_enabled": True, "grafana_admin_password": "grafana-admin-pass"}
    project.write("cluster.yaml", cluster_yaml(project, settings))
    log = tmp_path / "events.jsonl"
    env = {"CLUSTER_TEMPLATE_EVENT_LOG": str(log)}
    dry = project.inv("--dry", "configure", env=env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    plan = dry.stdout + dry.stderr
    assert "would create: kubernetes/apps/storage/rustfs/app/secret.sops.yaml" in plan
    assert not (project.root / "kubernetes").exists()
    live = project.inv("configure", "--yes", env=env)
    assert live.returncode == 0, live.stdout + live.stderr
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(event.get("dry") for event in events) and any(not event.get("dry") for event in events)
    from cluster_template.inputs import read_local_inputs

    push_token = (project.root / "github-push-token.txt").read_text().strip()
    age = next(line for line in (project.root / "age.key").read_text().splitlines() if line.startswith("AGE-"))
    local = read_local_inputs(project.root, deploy_key_required=False)  # the deploy key and tunnel token too
    cluster_secrets = [CLOUDFLARE_TOKEN, TUNNEL_SECRET, RUSTFS["rustfs_secret_key"], "grafana-admin-pass",
                       push_token, age, *local.secrets()]
    assert local.github_deploy_key and local.cloudflare_tunnel_token
    everything = plan + live.stdout + live.stderr + log.read_text()
    for form in secret_forms(*cluster_secrets):
        assert form not in everything, form


# -- the substitution escape, end to end ------------------------------------------------------------

DASHBOARD = '''---
apiVersion: v1
kind: ConfigMap
metadata:
  name: echo-dashboard
  labels:
    grafana_dashboard: "1"
data:
  echo.json: |
    {"title": "Echo", "templating": {"list": [{"name": "pod", "query": "label_values(up, $${LABEL})"}]},
     "panels": [{"targets": [{"expr": "rate(http_requests_total{pod=\\"$${pod}\\"}[5m])"}]}]}
'''
SCRIPT = '''---
apiVersion: v1
kind: ConfigMap
metadata:
  name: echo-scripts
data:
  backup.sh: |
    #!/bin/sh
    set -eu
    target="$${BACKUP_DIR:-/tmp}/$${HOSTNAME}.tar"
    echo "host ${SECRET_DOMAIN}: writing $target"
'''


def test_escaped_variables_pass_validation_and_reach_the_cluster_literally(tmp_path):
    """`$${VAR}` in a dashboard and in a script: configure accepts it, and after Flux's post-build
    substitution (as the validator models it, with the variables the echo Kustomization gets) the
    ConfigMaps hold `${VAR}`, while a real variable next to them is still substituted."""
    import subprocess

    from cluster_template.validate.substitution import Variables, substitute, variables_from_object
    from cluster_template.validate.yamldocs import load_documents as load_all

    project = initialized_copy(tmp_path / "repo")
    add_to_echo(project, "dashboard.yaml", DASHBOARD)
    add_to_echo(project, "scripts.yaml", SCRIPT)
    result = project.inv("configure", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "$${HOSTNAME}" in (project.root / "kubernetes/apps/default/echo/app/scripts.yaml").read_text()

    built = subprocess.run(["kubectl", "kustomize", str(project.root / "kubernetes/apps/default/echo/app")],
                           capture_output=True, text=True, check=True).stdout
    # cluster-secrets is what the root Kustomization's patch substitutes from; encrypted, its values
    # are unknown here, and SECRET_DOMAIN stands in for the real one.
    secrets = load_all((project.root / "kubernetes/components/sops/cluster-secrets.sops.yaml").read_text())[0]
    variables = variables_from_object(secrets)
    assert "SECRET_DOMAIN" in variables.opaque
    variables.update(Variables({"SECRET_DOMAIN": "example.com"}))
    substituted = substitute(built, variables)
    assert substituted.undefined == [] and substituted.unsupported == []
    objects = {doc["metadata"]["name"]: doc for doc in load_all(substituted.text) if doc}
    script = objects["echo-scripts"]["data"]["backup.sh"]
    assert 'target="${BACKUP_DIR:-/tmp}/${HOSTNAME}.tar"' in script and "$$" not in script
    assert "echo \"host example.com: writing $target\"" in script
    dashboard = objects["echo-dashboard"]["data"]["echo.json"]
    assert "label_values(up, ${LABEL})" in dashboard and 'pod=\\"${pod}\\"' in dashboard and "$$" not in dashboard


# -- the current render passes every guard -------------------------------------------------------


def test_every_platform_component_on_passes_every_guard(tmp_path):
    """The sample with every platform and data component, both gateway policies and the Proxmox
    infrastructure on: configure (with all five guards) accepts it."""
    from tests.components.test_data_layer import ALL_ON
    from tests.components.test_platform import FULL

    proxmox = {"proxmox_api_url": "https://pve.example.com:8006/api2/json", "proxmox_node": "pve",
               "proxmox_api_token_id": "root@pam!tofu", "proxmox_api_token_secret": "pve-token-secret",
               "tfstate_password": "tfstate-pass"}
    sso = {"oidc_sso_enabled": True, "oidc_client_secret": "gateway-client-secret"}
    project = initialized_copy(tmp_path / "repo")
    project.write("cluster.yaml", cluster_yaml(project, {**FULL, **ALL_ON, **sso, **proxmox}))
    result = project.inv("configure", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": no errors" in result.stdout
    for name in ("securitypolicy-oidc.yaml", "securitypolicy-jwt.yaml"):
        assert (project.root / "kubernetes/apps/network/envoy-gateway/config" / name).is_file()
    assert (project.root / "infrastructure/secrets.sops.yaml").is_file()
