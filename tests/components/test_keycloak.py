"""Keycloak (issue 16): the operator, the instance in embedded and CloudNativePG mode, backups,
tracing, monitoring, network policies, and the realm keycloak-config-cli applies.

- end to end with `inv configure --yes`, each database mode with everything on (backups, tracing,
  monitoring, policies, the three social providers, every role mapper, SMTP, Grafana and gateway
  sign-in) and Keycloak alone: the tree validates with no kind skipped, credentials appear only
  encrypted, and turning Keycloak off prunes every file of it;
- rendered in-process: the realm holds exactly the clients, providers and mappers the config
  turns on, the Job name follows the realm, what each mode and flag changes;
- the configuration rules of the new keys.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from cluster_template.errors import ConfigError
from cluster_template.derive.keycloak_realm import build_realm
from cluster_template.ops.configure import build_context
from cluster_template.run import Executor
from tests.components.test_data_layer import CNPG, PLUGIN, configure, validate
from tests.components.test_platform import (
    HUBBLE,
    KEYCLOAK,
    MONITORING,
    NETWORK_POLICIES,
    RUSTFS,
    TRACING,
    Renderer,
    assert_kustomizations_complete,
    cluster_yaml,
    document,
    documents,
    initialized_copy,
    outputs,
)

IDENTITY = "kubernetes/apps/identity/"
KS = IDENTITY + "keycloak/ks.yaml"
CR = IDENTITY + "keycloak/app/keycloak.yaml"
REALM = IDENTITY + "keycloak/config/realm.yaml"
REALM_SECRET = IDENTITY + "keycloak/config/secret.sops.yaml"
JOB = IDENTITY + "keycloak/config/job.yaml"
CRONJOB = IDENTITY + "keycloak/app/backup-cronjob.yaml"
POLICIES = IDENTITY + "network-policies/app/keycloak.yaml"
JWT_POLICY = "kubernetes/apps/network/envoy-gateway/config/securitypolicy-jwt.yaml"
ISSUER = "https://auth.example.com/realms/matherlynet"

GROUP_ID = "0b3c7f9e-1d2a-4c5b-8e6f-7a8b9c0d1e2f"
BACKUP = {**RUSTFS, "keycloak_s3_access_key": "kc-s3-access", "keycloak_s3_secret_key": "kc-s3-secret"}
IDPS = {
    "google_idp_enabled": True, "google_client_id": "google-id.apps.example", "google_client_secret": "gg-secret",
    "github_idp_enabled": True, "github_client_id": "gh-client-id", "github_client_secret": "gh-secret",
    "microsoft_idp_enabled": True, "microsoft_client_id": "ms-client-id", "microsoft_client_secret": "ms-secret",
    "microsoft_tenant_id": "5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
}
MAPPERS = {
    "google_default_role": "viewer", "google_domain_role_mapping": {"domain": "example.org", "role": "developer"},
    "github_default_role": "viewer",
    "microsoft_default_role": "user", "microsoft_group_role_mappings": [{"group_id": GROUP_ID, "role": "admin"}],
}
REALM_SHAPE = {
    "keycloak_realm_roles": [{"name": "admin", "description": "Everything"}, {"name": "viewer"},
                             {"name": "developer"}],
    "keycloak_realm_groups": [{"name": "platform", "description": "Platform team", "realm_roles": ["admin"],
                               "subgroups": [{"name": "oncall", "realm_roles": ["developer"]}]}],
    "keycloak_events_retention_days": 30,
}
SMTP = {"keycloak_smtp_host": "smtp.example.com", "keycloak_smtp_from": "noreply@example.com",
        "keycloak_smtp_auth": True, "keycloak_smtp_user": "mailer", "keycloak_smtp_password": "smtp-pass"}
SIGN_IN = {"grafana_oidc_enabled": True, "grafana_oidc_client_secret": "gf-client-secret",
           "oidc_sso_enabled": True, "oidc_client_secret": "gw-client-secret"}
EVERYTHING = {**KEYCLOAK, **BACKUP, **MONITORING, **TRACING, **HUBBLE, **NETWORK_POLICIES,
              "network_policies_mode": "enforce", "keycloak_tracing_enabled": True,
              "keycloak_tracing_sample_rate": 0.25, "keycloak_monitoring_enabled": True,
              **IDPS, **MAPPERS, **REALM_SHAPE, **SMTP, **SIGN_IN}
EMBEDDED_FULL = EVERYTHING
CNPG_FULL = {**EVERYTHING, **PLUGIN, "keycloak_db_mode": "cnpg", "keycloak_db_instances": 2}
PLAINTEXTS = ("kc-admin-pass", "kc-db-pass", "kc-s3-secret", "gg-secret", "gh-secret", "ms-secret", "smtp-pass",
              "gf-client-secret", "gw-client-secret")


def realm_of(files: dict[str, bytes]) -> dict:
    return json.loads(document(files, REALM, "ConfigMap")["data"]["realm.json"])


def identity_files(files) -> set[str]:
    return {path for path in files if path.startswith(IDENTITY)}


# -- end to end ---------------------------------------------------------------------------------


def _end_to_end(tmp_path_factory, name: str, settings: dict[str, object]) -> dict:
    project = initialized_copy(tmp_path_factory.mktemp(name) / "repo")
    result = configure(project, settings)
    assert result.returncode == 0, result.stdout + result.stderr
    files = project.snapshot()
    report = validate(project)
    # --force: render, encrypt and validate again; a stable render changes no file.
    again = project.inv("configure", "--yes", "--force")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "create 0, update 0, remove 0" in again.stdout
    assert outputs(project.snapshot()) == outputs(files)
    off = {key: value for key, value in settings.items() if key in ("cnpg_enabled", "cnpg_barman_plugin_enabled")}
    removed = configure(project, off)
    return {"stdout": result.stdout, "files": files, "report": report, "removed": removed,
            "after": project.snapshot()}


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    return _end_to_end(tmp_path_factory, "keycloak-embedded", EMBEDDED_FULL)


@pytest.fixture(scope="module")
def cnpg(tmp_path_factory):
    return _end_to_end(tmp_path_factory, "keycloak-cnpg", CNPG_FULL)


@pytest.fixture(scope="module")
def alone(tmp_path_factory):
    return _end_to_end(tmp_path_factory, "keycloak-alone", KEYCLOAK)


@pytest.fixture(scope="module")
def cnpg_alone(tmp_path_factory):
    return _end_to_end(tmp_path_factory, "keycloak-cnpg-alone", {**KEYCLOAK, **CNPG, "keycloak_db_mode": "cnpg"})


@pytest.mark.parametrize("scenario", ["embedded", "cnpg", "alone", "cnpg_alone"])
def test_renders_validates_and_prunes(scenario, request):
    run = request.getfixturevalue(scenario)
    report = run["report"]
    assert report.ok, "\n".join(str(issue) for issue in report.errors)
    assert "no errors" in run["stdout"]
    kinds = {"Keycloak", "GitRepository", "Kustomization", "HTTPRoute", "Job", "ConfigMap", "Deployment"}
    if scenario.startswith("cnpg"):
        kinds |= {"Cluster"}
    if scenario == "cnpg":
        kinds |= {"ObjectStore", "ScheduledBackup"}
    if scenario == "alone":
        kinds |= {"StatefulSet"}
    if scenario == "embedded":
        kinds |= {"StatefulSet", "CronJob"}
    if scenario in ("embedded", "cnpg"):
        kinds |= {"CiliumNetworkPolicy"}
    for kind in kinds:
        assert report.counts.get(kind), f"{kind} not checked"
    assert run["removed"].returncode == 0, run["removed"].stderr
    assert identity_files(run["files"]) and not identity_files(run["after"])
    apps = documents(run["after"], "kubernetes/apps/kustomization.yaml")[0]["resources"]
    assert "./identity" not in apps


@pytest.mark.parametrize("scenario", ["embedded", "cnpg"])
def test_credentials_only_encrypted(scenario, request):
    files = request.getfixturevalue(scenario)["files"]
    secrets = {path for path in files if path.startswith(IDENTITY) and path.endswith(".sops.yaml")}
    assert REALM_SECRET in secrets and IDENTITY + "keycloak/app/admin.sops.yaml" in secrets
    for path, data in outputs(files).items():
        if path in ("cluster.yaml", "nodes.yaml"):
            continue
        text = data.decode(errors="replace")
        if path in secrets:
            assert "ENC[AES256_GCM" in text, path
        for plain in PLAINTEXTS:
            assert plain not in text, (path, plain)


def test_flux_order(embedded, cnpg):
    for files, mode in ((embedded["files"], "embedded"), (cnpg["files"], "cnpg")):
        docs = {doc["metadata"]["name"]: doc for doc in documents(files, KS) if doc["kind"] == "Kustomization"}
        depends = {name: [entry["name"] for entry in doc["spec"].get("dependsOn", [])] for name, doc in docs.items()}
        assert depends["keycloak-operator"] == ["keycloak-crds"]
        assert depends["keycloak-config"] == ["keycloak"]
        if mode == "cnpg":
            assert depends["keycloak"] == ["keycloak-operator", "cert-manager", "keycloak-postgres"]
            assert depends["keycloak-postgres"][0] == "cloudnative-pg"
        else:
            assert depends["keycloak"] == ["keycloak-operator", "cert-manager", "rustfs-setup"]
            assert "keycloak-postgres" not in docs
        crds = docs["keycloak-crds"]["spec"]
        assert crds["sourceRef"] == {"kind": "GitRepository", "name": "keycloak-k8s-resources"}
        source = document(files, KS, "GitRepository")["spec"]
        assert source["ref"] == {"tag": "26.5.0"}


def test_crd_source_keeps_only_the_two_crds(embedded, tmp_path):
    """Flux reads spec.ignore as .gitignore rules; git itself says what they keep of the release."""
    ignore = document(embedded["files"], KS, "GitRepository")["spec"]["ignore"]
    release = ["README.md", "LICENSE.txt", "kubernetes/kubernetes.yml", "kubernetes/keycloaks.k8s.keycloak.org-v1.yml",
               "kubernetes/keycloakrealmimports.k8s.keycloak.org-v1.yml", "openshift/openshift.yml"]
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text(ignore)
    for name in release:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    listed = subprocess.run(["git", "-C", str(tmp_path), "ls-files", "--others", "--exclude-standard"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert sorted(listed) == ["kubernetes/keycloakrealmimports.k8s.keycloak.org-v1.yml",
                              "kubernetes/keycloaks.k8s.keycloak.org-v1.yml"]


# -- rendered in-process --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> Renderer:
    return Renderer(initialized_copy(tmp_path_factory.mktemp("keycloak-render") / "repo"))


def test_realm_holds_what_the_config_turns_on(render):
    files = render(EMBEDDED_FULL)
    realm = realm_of(files)
    assert realm["realm"] == "matherlynet" and realm["eventsExpiration"] == 30 * 86400
    clients = {client["clientId"]: client for client in realm["clients"]}
    assert set(clients) == {"grafana", "envoy-gateway"}
    grafana = clients["grafana"]
    assert grafana["redirectUris"] == ["https://grafana.example.com/login/generic_oauth"]
    assert grafana["secret"] == "$(env:GRAFANA_CLIENT_SECRET)"
    assert grafana["attributes"]["pkce.code.challenge.method"] == "S256"
    gateway = clients["envoy-gateway"]
    assert gateway["redirectUris"] == ["https://hubble.example.com/oauth2/callback",
                                       "https://grafana.example.com/oauth2/callback",
                                       "https://rustfs.example.com/oauth2/callback"]
    assert {provider["alias"]: provider["providerId"] for provider in realm["identityProviders"]} == {
        "google": "oidc", "github": "github", "microsoft": "oidc"}
    microsoft = next(p for p in realm["identityProviders"] if p["alias"] == "microsoft")
    assert microsoft["trustEmail"] is False
    assert microsoft["config"]["issuer"] == f"https://login.microsoftonline.com/{IDPS['microsoft_tenant_id']}/v2.0"
    mappers = {mapper["name"]: mapper for mapper in realm["identityProviderMappers"]}
    assert set(mappers) == {"google-default-role", "github-default-role", "microsoft-default-role",
                            "google-domain-example.org", f"microsoft-group-{GROUP_ID}-admin"}
    domain = mappers["google-domain-example.org"]
    assert domain["identityProviderMapper"] == "oidc-role-idp-mapper"
    assert domain["config"] == {"syncMode": "FORCE", "role": "developer", "claim": "hd", "claim.value": "example.org"}
    group = mappers[f"microsoft-group-{GROUP_ID}-admin"]["config"]
    assert (group["claim"], group["claim.value"], group["role"]) == ("groups", GROUP_ID, "admin")
    # Configured roles first (with their descriptions), then the role only a mapper names.
    assert realm["roles"]["realm"] == [{"name": "admin", "description": "Everything"}, {"name": "viewer"},
                                       {"name": "developer"}, {"name": "user"}]
    # The realm is consistent: every mapper names a provider and a realm role, every group role exists.
    roles = {role["name"] for role in realm["roles"]["realm"]}
    aliases = {provider["alias"] for provider in realm["identityProviders"]}
    assert all(m["identityProviderAlias"] in aliases and m["config"]["role"] in roles for m in mappers.values())
    assert {"admin", "developer"} <= roles
    assert realm["groups"] == [{"name": "platform", "realmRoles": ["admin"], "attributes": {"description": ["Platform team"]},
                                "subGroups": [{"name": "oncall", "realmRoles": ["developer"]}]}]
    smtp = realm["smtpServer"]
    assert smtp["host"] == "smtp.example.com" and smtp["auth"] == "true"
    assert smtp["password"] == "$(env:KEYCLOAK_SMTP_PASSWORD)" and realm["resetPasswordAllowed"] is True
    secret = document(files, REALM_SECRET, "Secret")["stringData"]
    assert secret == {"GRAFANA_CLIENT_SECRET": "gf-client-secret", "OIDC_CLIENT_SECRET": "gw-client-secret",
                      "GOOGLE_CLIENT_SECRET": "gg-secret", "GITHUB_CLIENT_SECRET": "gh-secret",
                      "MICROSOFT_CLIENT_SECRET": "ms-secret", "KEYCLOAK_SMTP_USER": "mailer",
                      "KEYCLOAK_SMTP_PASSWORD": "smtp-pass"}
    # Every placeholder of the realm has its variable in the Secret.
    text = files[REALM].decode()
    for name in secret:
        if name != "KEYCLOAK_SMTP_USER":
            assert f"$(env:{name})" in text
    job = document(files, JOB, "Job")["spec"]["template"]["spec"]["containers"][0]
    assert job["envFrom"] == [{"secretRef": {"name": "keycloak-realm-secrets"}}]
    assert job["image"] == "docker.io/adorsys/keycloak-config-cli:6.4.0-26.1.0"


def test_minimal_realm_has_no_clients_providers_or_secret(render):
    files = render(KEYCLOAK)
    realm = realm_of(files)
    for key in ("clients", "identityProviders", "identityProviderMappers", "roles", "groups", "smtpServer",
                "eventsExpiration"):
        assert key not in realm, key
    assert realm["resetPasswordAllowed"] is False
    assert REALM_SECRET not in files
    assert "envFrom" not in document(files, JOB, "Job")["spec"]["template"]["spec"]["containers"][0]
    assert_kustomizations_complete(files)


def test_each_provider_and_its_mappers_alone(render):
    for provider in ("google", "github", "microsoft"):
        settings = {**KEYCLOAK, **{key: value for key, value in IDPS.items() if key.startswith(provider)},
                    **{key: value for key, value in MAPPERS.items() if key.startswith(provider)}}
        realm = realm_of(render(settings))
        assert [p["alias"] for p in realm["identityProviders"]] == [provider]
        assert {m["identityProviderAlias"] for m in realm["identityProviderMappers"]} == {provider}
    # A provider without mappers: no mapper list, no mapper roles.
    realm = realm_of(render({**KEYCLOAK, "github_idp_enabled": True, "github_client_id": "i",
                             "github_client_secret": "s"}))
    assert "identityProviderMappers" not in realm and "roles" not in realm


def test_multi_tenant_microsoft_checks_no_issuer(render):
    settings = {**KEYCLOAK, **{key: value for key, value in IDPS.items() if key.startswith("microsoft")},
                "microsoft_tenant_id": "common"}
    config = realm_of(render(settings))["identityProviders"][0]["config"]
    assert "issuer" not in config and config["tokenUrl"] == "https://login.microsoftonline.com/common/oauth2/v2.0/token"


def test_app_clients_follow_their_sign_in_flags(render):
    """The app clients of LiteLLM, Langfuse and Obot: the realm is built from the derived flags those
    apps set (their components are built elsewhere, so their flags are set here directly)."""
    render.project.write("cluster.yaml", cluster_yaml(render.project, KEYCLOAK))
    config, context = build_context(render.project.root, Executor())
    apps = {"litellm_oidc_enabled": True, "litellm_hostname": "litellm.example.com",
            "langfuse_sso_enabled": True, "langfuse_hostname": "langfuse.example.com",
            "langfuse_url": "https://langfuse.example.com", "obot_keycloak_enabled": True,
            "obot_hostname": "obot.example.com"}
    realm, secrets = build_realm(config.cluster, {**context, **apps})
    clients = {client["clientId"]: client for client in realm["clients"]}
    assert set(clients) == {"litellm", "langfuse", "obot"}
    assert clients["litellm"]["redirectUris"] == ["https://litellm.example.com/sso/callback"]
    assert clients["langfuse"]["redirectUris"] == ["https://langfuse.example.com/api/auth/callback/keycloak"]
    obot = clients["obot"]
    assert obot["redirectUris"] == ["https://obot.example.com/oauth2/callback"]
    assert obot["publicClient"] is False and obot["attributes"]["pkce.code.challenge.method"] == "S256"
    assert "groups" in {mapper["name"] for mapper in obot["protocolMappers"]}
    assert set(secrets) == {"LITELLM_CLIENT_SECRET", "LANGFUSE_CLIENT_SECRET", "OBOT_CLIENT_SECRET"}
    realm, _ = build_realm(config.cluster, {**context, **apps, "obot_keycloak_enabled": False})
    assert "obot" not in {client["clientId"] for client in realm["clients"]}


def test_job_name_follows_the_realm_and_the_config_version(render):
    def job_name(settings):
        return document(render(settings), JOB, "Job")["metadata"]["name"]

    base = job_name(KEYCLOAK)
    assert base.startswith("keycloak-realm-")
    assert job_name(KEYCLOAK) == base
    assert job_name({**KEYCLOAK, "keycloak_config_version": 2}) != base
    assert job_name({**KEYCLOAK, **REALM_SHAPE}) != base
    # A secret never enters the name: rotating one needs keycloak_config_version bumped.
    with_sso = {**KEYCLOAK, **MONITORING, **SIGN_IN}
    assert job_name(with_sso) == job_name({**with_sso, "grafana_oidc_client_secret": "rotated-secret"})


def test_instance_in_each_mode(render):
    files = render({**KEYCLOAK, **BACKUP})
    spec = document(files, CR, "Keycloak")["spec"]
    assert spec["db"]["host"] == "keycloak-postgres" and spec["db"]["usernameSecret"]["name"] == "keycloak-db"
    assert spec["hostname"]["hostname"] == "https://auth.example.com"
    assert "tracing" not in spec and spec["serviceMonitor"] == {"enabled": False}
    cronjob = document(files, CRONJOB, "CronJob")["spec"]
    assert cronjob["schedule"] == "0 2 * * *"
    upload = cronjob["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert 's3://keycloak-backups/embedded/' in upload and '-d "-7 days"' in upload
    assert not [path for path in files if path.startswith(IDENTITY + "keycloak/db/")]

    files = render({**KEYCLOAK, **CNPG, "keycloak_db_mode": "cnpg"})
    spec = document(files, CR, "Keycloak")["spec"]
    assert spec["db"]["host"] == "keycloak-postgres-rw"
    assert spec["db"]["passwordSecret"] == {"name": "keycloak-postgres-app", "key": "password"}
    cluster = document(files, IDENTITY + "keycloak/db/cluster.yaml", "Cluster")["spec"]
    assert "postgresql" not in cluster or "extensions" not in cluster.get("postgresql", {})  # no pgvector
    assert not [path for path in files if path.endswith(("postgres.yaml", "backup-cronjob.yaml"))
                and path.startswith(IDENTITY)]
    assert_kustomizations_complete(files)


def test_tracing_monitoring_and_policies(render):
    files = render(EMBEDDED_FULL)
    spec = document(files, CR, "Keycloak")["spec"]
    assert spec["tracing"]["endpoint"] == "http://tempo.monitoring.svc.cluster.local:4317"
    assert spec["tracing"]["samplerRatio"] == 0.25
    assert spec["serviceMonitor"] == {"enabled": True}
    assert {"name": "metrics-enabled", "value": "true"} in spec["additionalOptions"]
    assert spec["networkPolicy"] == {"enabled": False}
    assert document(files, IDENTITY + "keycloak/app/dashboard.yaml", "ConfigMap")
    policy = document(files, POLICIES, "CiliumNetworkPolicy", "keycloak")["spec"]
    ports = [port["port"] for port in policy["egress"][0]["toPorts"][0]["ports"]]
    assert ports == ["443", "587"]
    assert policy["egress"][1]["toEndpoints"][0]["matchLabels"]["app.kubernetes.io/instance"] == "tempo"
    assert document(files, POLICIES, "CiliumNetworkPolicy", "keycloak-postgres-backup")


def test_replicas_get_a_disruption_budget_where_pods_can_move(render):
    files = render({**KEYCLOAK, "keycloak_replicas": 3})
    assert document(files, CR, "Keycloak")["spec"]["instances"] == 3
    # The sample cluster schedules on one worker: a budget would block every drain.
    assert IDENTITY + "keycloak/app/pdb.yaml" not in files
    assert_kustomizations_complete(files)
    nodes = render.project.root / "nodes.yaml"
    sample = nodes.read_text()
    second_worker = sample.split("  - name: \"k8s-1\"", 1)[1].replace("192.168.1.11", "192.168.1.12").replace(
        "bc:24:11:00:00:11", "bc:24:11:00:00:12")
    try:
        nodes.write_text(sample + "  - name: \"k8s-2\"" + second_worker)
        files = render({**KEYCLOAK, "keycloak_replicas": 3})
    finally:
        nodes.write_text(sample)
    budget = document(files, IDENTITY + "keycloak/app/pdb.yaml", "PodDisruptionBudget")["spec"]
    assert budget["maxUnavailable"] == 1 and budget["selector"]["matchLabels"]["app"] == "keycloak"
    assert "./pdb.yaml" in documents(files, IDENTITY + "keycloak/app/kustomization.yaml")[0]["resources"]


def test_public_route_keeps_the_admin_console_internal(render):
    files = render(KEYCLOAK)
    public = document(files, IDENTITY + "keycloak/app/httproute.yaml", "HTTPRoute", "keycloak")["spec"]
    assert public["parentRefs"][0]["name"] == "envoy-external"
    served = [match["path"]["value"] for rule in public["rules"] if rule.get("backendRefs") for match in rule["matches"]]
    assert served == ["/realms/", "/resources/"]
    blocked = [rule for rule in public["rules"] if not rule.get("backendRefs")]
    assert blocked[0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/realms/master/"}}]
    internal = document(files, IDENTITY + "keycloak/app/httproute.yaml", "HTTPRoute", "keycloak-internal")["spec"]
    assert internal["parentRefs"][0]["name"] == "envoy-internal" and "matches" not in internal["rules"][0]


def test_jwt_policy_names_the_keycloak_issuer(render):
    provider = document(render(KEYCLOAK), JWT_POLICY, "SecurityPolicy")["spec"]["jwt"]["providers"][0]
    assert provider["issuer"] == ISSUER
    assert provider["remoteJWKS"]["uri"] == ISSUER + "/protocol/openid-connect/certs"
    provider = document(render({**KEYCLOAK, "keycloak_realm": "staff"}), JWT_POLICY,
                        "SecurityPolicy")["spec"]["jwt"]["providers"][0]
    assert provider["issuer"] == "https://auth.example.com/realms/staff"


# -- configuration rules --------------------------------------------------------------------------


def _refusal(render, settings) -> str:
    render.project.write("cluster.yaml", cluster_yaml(render.project, settings))
    with pytest.raises(ConfigError) as raised:
        build_context(render.project.root, Executor())
    return str(raised.value)


def test_cnpg_mode_needs_cnpg(render):
    assert "requires cnpg_enabled: true" in _refusal(render, {**KEYCLOAK, "keycloak_db_mode": "cnpg"})


def test_rules_of_the_new_keys(render):
    text = _refusal(render, {**KEYCLOAK, "keycloak_smtp_host": "smtp.example.com", "keycloak_smtp_ssl": True,
                             "keycloak_smtp_auth": True})
    assert "keycloak_smtp_from: is required when keycloak_smtp_host is set" in text
    assert "keycloak_smtp_ssl and keycloak_smtp_starttls exclude each other" in text
    assert "keycloak_smtp_user: is required when keycloak_smtp_auth is true" in text
    text = _refusal(render, {**KEYCLOAK, "keycloak_db_instances": 3})
    assert "keycloak_db_instances: applies to keycloak_db_mode: cnpg only" in text
    text = _refusal(render, {**KEYCLOAK, **CNPG, "keycloak_db_mode": "cnpg", "keycloak_backup_schedule": "0 4 * * *"})
    assert "keycloak_backup_schedule: applies to keycloak_db_mode: embedded only" in text
    text = _refusal(render, {**KEYCLOAK, "keycloak_smtp_port": 465})
    assert "keycloak_smtp_port: requires keycloak_smtp_host" in text
    text = _refusal(render, {**KEYCLOAK, "keycloak_realm_groups": [{"name": "ops", "realm_roles": ["root"]}]})
    assert "group 'ops' grants realm role 'root'" in text
    text = _refusal(render, {**KEYCLOAK, "github_default_role": "viewer"})
    assert "github_default_role: requires github_idp_enabled: true" in text
    text = _refusal(render, {**KEYCLOAK, "github_org_role_mapping": {"org": "acme", "role": "admin"}})
    assert "github_org_role_mapping: not supported (yet): Keycloak's GitHub provider" in text
    text = _refusal(render, {**KEYCLOAK, **MONITORING, **SIGN_IN, "grafana_oidc_client_secret": 'gf"quoted'})
    assert "grafana_oidc_client_secret: must not contain a double quote" in text and 'gf"quoted' not in text
    text = _refusal(render, {**KEYCLOAK, "keycloak_realm": "master"})
    assert "keycloak_realm: " in text and "master" in text


def test_template_vars_shows_the_realm_without_its_secrets(render):
    render.project.write("cluster.yaml", cluster_yaml(render.project, EMBEDDED_FULL))
    result = render.project.inv("template.vars", "--json")
    assert result.returncode == 0, result.stderr
    for plain in PLAINTEXTS:
        assert plain not in result.stdout, plain
    shown = json.loads(result.stdout)
    assert set(shown["keycloak_realm_secrets"]) >= {"GRAFANA_CLIENT_SECRET", "KEYCLOAK_SMTP_PASSWORD"}
    assert shown["keycloak_realm_config"]["realm"] == "matherlynet"


def test_realm_and_policy_with_the_ai_apps(render):
    """With LiteLLM and Langfuse rendered for real and their sign-in on, the realm has their clients
    and Keycloak admits their direct token calls."""
    from tests.components.test_langfuse import BOTH

    files = render(BOTH)
    clients = {client["clientId"]: client for client in realm_of(files)["clients"]}
    assert set(clients) == {"litellm", "langfuse"}
    assert clients["langfuse"]["redirectUris"] == ["https://langfuse.example.com/api/auth/callback/keycloak"]
    secret = document(files, REALM_SECRET, "Secret")["stringData"]
    assert set(secret) == {"LITELLM_CLIENT_SECRET", "LANGFUSE_CLIENT_SECRET"}
    ingress = document(files, POLICIES, "CiliumNetworkPolicy", "keycloak")["spec"]["ingress"][0]["fromEndpoints"]
    assert {"io.kubernetes.pod.namespace": "ai-system"} in [entry["matchLabels"] for entry in ingress]
    # The apps' egress rules select the pods this policy guards.
    assert document(files, CR, "Keycloak")["metadata"]["name"] == "keycloak"
    ingress = document(render(KEYCLOAK | NETWORK_POLICIES), POLICIES, "CiliumNetworkPolicy", "keycloak")["spec"]
    assert all(entry["matchLabels"]["io.kubernetes.pod.namespace"] == "network"
               for entry in ingress["ingress"][0]["fromEndpoints"])
