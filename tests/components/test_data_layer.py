"""The data layer (issue 15): CloudNativePG with the Barman Cloud plugin, the shared database macro
(_macros/postgres.j2, used here by the fixture app under fixtures/database-app), and Dragonfly.

- end to end with `inv configure --yes`: everything on, and each component alone, renders a tree
  the validator accepts with no kind skipped; removing the keys prunes the files; credentials
  appear only encrypted in *.sops.yaml files; an ObjectStore with its retention policy in the
  wrong place is refused;
- rendered in-process (fast): what each key changes in the output.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cluster_template.run import Executor
from cluster_template.validate import validate_tree
from tests.components.test_platform import (
    KEYCLOAK,
    MONITORING,
    NETWORK_POLICIES,
    RUSTFS,
    Renderer,
    assert_kustomizations_complete,
    cluster_yaml,
    document,
    documents,
    initialized_copy,
    outputs,
)
from tests.conftest import SCHEMA_DIR, Project

FIXTURE = Path(__file__).parent / "fixtures" / "database-app"
MACRO = "templates/config/_macros/postgres.j2"

CNPG = {"cnpg_enabled": True}
PLUGIN = {**CNPG, "cnpg_barman_plugin_enabled": True}
CNPG_BACKUP = {**PLUGIN, **RUSTFS, "cnpg_backup_enabled": True, "cnpg_s3_access_key": "cnpg-access",
               "cnpg_s3_secret_key": "cnpg-secret-key"}
DRAGONFLY = {"dragonfly_enabled": True, "dragonfly_password": "df-default-pass"}
DRAGONFLY_ACL = {**DRAGONFLY, "dragonfly_acl_enabled": True, "dragonfly_appcache_password": "df-appcache-pass"}
DRAGONFLY_BACKUP = {**DRAGONFLY, **RUSTFS, "dragonfly_backup_enabled": True, "dragonfly_s3_access_key": "df-access",
                    "dragonfly_s3_secret_key": "df-secret-key"}
ALL_ON = {**CNPG_BACKUP, "cnpg_pgvector_enabled": True, **DRAGONFLY_ACL, **DRAGONFLY_BACKUP,
          "dragonfly_monitoring_enabled": True, "dragonfly_replicas": 2, **MONITORING, **NETWORK_POLICIES,
          "network_policies_mode": "enforce"}
# Every credential of ALL_ON plus the fixture's database password; none may appear in plaintext.
PLAINTEXTS = ("cnpg-secret-key", "df-default-pass", "df-appcache-pass", "df-secret-key",
              "rustfs-secret-key", "grafana-admin-pass", "demo-db-password")

INPUTS = {"cluster.yaml", "nodes.yaml"}
CNPG_FILES = "kubernetes/apps/cnpg-system/"
CACHE_FILES = "kubernetes/apps/cache/"
DEMO = "kubernetes/apps/default/demo/"
PLUGIN_KS = "kubernetes/apps/cnpg-system/barman-cloud-plugin/ks.yaml"
DRAGONFLY_CR = "kubernetes/apps/cache/dragonfly/app/dragonfly.yaml"
DRAGONFLY_SECRET = "kubernetes/apps/cache/dragonfly/app/secret.sops.yaml"
DRAGONFLY_POLICY = "kubernetes/apps/cache/network-policies/app/dragonfly.yaml"
SETUP_JOB = "kubernetes/apps/storage/rustfs/setup/job.yaml"


def install_database_fixture(project: Project) -> None:
    """The fixture app (default/demo) whose database is rendered by the macro, listed in default/."""
    shutil.copytree(FIXTURE, project.root / "templates/config", dirs_exist_ok=True)
    listing = project.root / "templates/config/kubernetes/apps/default/kustomization.yaml.j2"
    text = listing.read_text()
    assert "  - ./echo/ks.yaml\n" in text
    listing.write_text(text.replace(
        "  - ./echo/ks.yaml\n", "  - ./echo/ks.yaml\n  #% if cnpg_enabled %#\n  - ./demo/ks.yaml\n  #% endif %#\n"))


def configure(project: Project, settings: dict[str, object]):
    project.write("cluster.yaml", cluster_yaml(project, settings))
    return project.inv("configure", "--yes")


def validate(project: Project):
    return validate_tree(project.root, executor=Executor(), schema_dir=SCHEMA_DIR / "crds",
                         talos_schema=SCHEMA_DIR / "talos/config.schema.v1.12.11.json",
                         talconfig_schema=SCHEMA_DIR / "talhelper/talconfig.schema.json")


def assert_validated(report, stdout: str, kinds: tuple[str, ...]) -> None:
    """configure said "no errors", the validator agrees, and it checked every one of `kinds`."""
    assert report.ok, "\n".join(str(issue) for issue in report.errors)
    assert "no errors" in stdout
    for kind in kinds:
        assert report.counts.get(kind), f"{kind} not checked"


def bucket_script(files: dict[str, bytes]) -> str:
    return document(files, SETUP_JOB, "Job")["spec"]["template"]["spec"]["containers"][0]["command"][-1]


# -- end to end ---------------------------------------------------------------------------------


def end_to_end(project, settings: dict) -> dict:
    """`inv configure --yes` with the settings, the validator over the result, then configure with
    the settings removed: what each step printed or left behind."""
    result = configure(project, settings)
    assert result.returncode == 0, result.stdout + result.stderr
    files = project.snapshot()
    report = validate(project)
    removed = configure(project, {})
    return {"project": project, "stdout": result.stdout, "files": files, "report": report,
            "removed": removed, "after_removal": project.snapshot()}


@pytest.fixture(scope="module")
def all_on(tmp_path_factory):
    project = initialized_copy(tmp_path_factory.mktemp("data-layer") / "repo")
    install_database_fixture(project)
    return end_to_end(project, ALL_ON)


def test_everything_on_renders_and_validates(all_on):
    assert_validated(all_on["report"], all_on["stdout"], (
        "Cluster", "Database", "ObjectStore", "ScheduledBackup", "Dragonfly", "Certificate", "Issuer", "PodMonitor",
        "PrometheusRule", "CiliumNetworkPolicy"))
    files = all_on["files"]
    releases = {doc["metadata"]["name"] for path in files if path.endswith("helmrelease.yaml")
                for doc in documents(files, path) if doc.get("kind") == "HelmRelease"}
    assert {"cloudnative-pg", "plugin-barman-cloud", "dragonfly-operator"} <= releases
    store = document(files, DEMO + "db/cluster.yaml", "ObjectStore")
    assert store["spec"]["retentionPolicy"] == "14d" and "retentionPolicy" not in store["spec"]["configuration"]
    assert store["spec"]["configuration"]["destinationPath"] == "s3://cnpg-backups/"
    assert "for bucket in cnpg-backups dragonfly-backups;" in bucket_script(files)


def test_credentials_only_encrypted_in_sops_files(all_on):
    files = outputs(all_on["files"])
    sealed = [path for path in files if path.endswith(".sops.yaml") and path != ".sops.yaml"]
    for expected in (DEMO + "db/secret.sops.yaml", DEMO + "db/backup.sops.yaml", DRAGONFLY_SECRET):
        assert expected in sealed
        assert "ENC[AES256_GCM" in files[expected].decode()
    for path, data in files.items():
        text = data.decode(errors="replace")
        for plain in PLAINTEXTS if path not in INPUTS else ():
            assert plain not in text, (path, plain)


def test_removing_the_keys_prunes_the_data_layer(all_on):
    assert all_on["removed"].returncode == 0, all_on["removed"].stderr
    left = outputs(all_on["after_removal"])
    assert not [path for path in left if path.startswith((CNPG_FILES, CACHE_FILES, DEMO))]
    assert "./cnpg-system" not in left["kubernetes/apps/kustomization.yaml"].decode()


@pytest.mark.parametrize("settings", [CNPG, PLUGIN, CNPG_BACKUP, DRAGONFLY, DRAGONFLY_ACL, DRAGONFLY_BACKUP],
                         ids=["cnpg", "plugin", "cnpg-backup", "dragonfly", "dragonfly-acl", "dragonfly-backup"])
@pytest.mark.slow
def test_each_component_alone_validates(tmp_path, settings):
    project = initialized_copy(tmp_path / "repo")
    install_database_fixture(project)
    result = configure(project, settings)
    assert result.returncode == 0, result.stdout + result.stderr
    report = validate(project)
    assert report.ok, "\n".join(str(issue) for issue in report.errors)


def test_retention_policy_under_configuration_is_refused(tmp_path):
    """The seed's mistake: ObjectStore.spec.configuration.retentionPolicy. The strict CRD schema
    refuses it, so `inv configure` stops and changes nothing."""
    project = initialized_copy(tmp_path / "repo")
    install_database_fixture(project)
    macro = project.root / MACRO
    text = macro.read_text()
    right = "  retentionPolicy: #{ db.get('retention', '7d') | to_yaml }#\n  configuration:\n"
    assert right in text
    macro.write_text(text.replace(
        right, "  configuration:\n    retentionPolicy: #{ db.get('retention', '7d') | to_yaml }#\n"))
    result = configure(project, CNPG_BACKUP)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert "Traceback" not in message
    assert "kubernetes/apps/default/demo/db/cluster.yaml" in message and "retentionPolicy" in message
    assert not (project.root / "kubernetes/apps/default/demo").exists()


# -- rendered in-process ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> Renderer:
    project = initialized_copy(tmp_path_factory.mktemp("data-render") / "repo")
    install_database_fixture(project)
    return Renderer(project)


def test_off_renders_nothing_of_the_data_layer(render):
    files = render({})
    assert not [path for path in files if path.startswith((CNPG_FILES, CACHE_FILES, DEMO))]
    assert_kustomizations_complete(files)


def test_operator_scheduling_and_priority(render):
    files = render({**PLUGIN, "cnpg_priority_class": "databases"})
    for path in (CNPG_FILES + "cloudnative-pg/app/helmrelease.yaml", CNPG_FILES + "barman-cloud-plugin/app/helmrelease.yaml"):
        values = document(files, path, "HelmRelease")["spec"]["values"]
        assert values["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}, path
        assert values["priorityClassName"] == "databases"
    files = render({**PLUGIN, "cnpg_control_plane_only": False})
    values = document(files, CNPG_FILES + "cloudnative-pg/app/helmrelease.yaml", "HelmRelease")["spec"]["values"]
    assert "nodeSelector" not in values and "tolerations" not in values
    # Monitoring files only with Prometheus.
    assert CNPG_FILES + "cloudnative-pg/app/podmonitor.yaml" not in files
    assert CNPG_FILES + "cloudnative-pg/app/podmonitor.yaml" in render({**CNPG, **MONITORING})


def test_plugin_version_picks_its_chart_and_waits_for_cert_manager(render):
    files = render({**PLUGIN, "cnpg_barman_plugin_version": "0.12.0", "cnpg_barman_plugin_log_level": "warn"})
    source = document(files, CNPG_FILES + "barman-cloud-plugin/app/ocirepository.yaml", "OCIRepository")
    assert source["spec"]["ref"]["tag"] == "0.6.0"
    values = document(files, CNPG_FILES + "barman-cloud-plugin/app/helmrelease.yaml", "HelmRelease")["spec"]["values"]
    assert values["image"]["tag"] == values["sidecarImage"]["tag"] == "v0.12.0"
    assert values["additionalArgs"] == ["--log-level=warn"]
    assert document(files, PLUGIN_KS, "Kustomization")["spec"]["dependsOn"] == [
        {"name": "cert-manager", "namespace": "cert-manager"}, {"name": "cloudnative-pg", "namespace": "cnpg-system"}]
    certificates = [doc for doc in documents(files, CNPG_FILES + "barman-cloud-plugin/app/certificates.yaml")
                    if doc["kind"] == "Certificate"]
    assert {doc["spec"]["secretName"] for doc in certificates} == {"barman-cloud-server-tls", "barman-cloud-client-tls"}


def test_database_macro_follows_the_keys(render):
    files = render({**CNPG_BACKUP, "cnpg_pgvector_enabled": True, "storage_class": "fast"})
    cluster = document(files, DEMO + "db/cluster.yaml", "Cluster")
    # Turning the app off never deletes its data.
    assert cluster["metadata"]["annotations"] == {"kustomize.toolkit.fluxcd.io/prune": "disabled"}
    cluster = cluster["spec"]
    assert cluster["storage"] == {"size": "2Gi", "storageClass": "fast"}
    assert cluster["postgresql"]["extensions"][0]["extension_control_path"] == ["/share"]
    assert cluster["plugins"][0]["parameters"] == {"barmanObjectName": "demo-postgres"}
    backup = document(files, DEMO + "db/cluster.yaml", "ScheduledBackup")["spec"]
    assert backup["method"] == "plugin" and backup["cluster"] == {"name": "demo-postgres"}
    secret = document(files, DEMO + "db/secret.sops.yaml", "Secret")
    assert secret["type"] == "kubernetes.io/basic-auth" and secret["stringData"]["username"] == "demo"
    ks = document(files, DEMO + "ks.yaml", "Kustomization")["spec"]
    assert [entry["name"] for entry in ks["dependsOn"]] == ["cloudnative-pg", "barman-cloud-plugin", "rustfs-setup"]
    # cnpg_storage_class wins over storage_class; without pgvector or backups neither appears.
    files = render({**CNPG, "storage_class": "fast", "cnpg_storage_class": "pg"})
    cluster = document(files, DEMO + "db/cluster.yaml", "Cluster")["spec"]
    assert cluster["storage"]["storageClass"] == "pg" and "postgresql" not in cluster and "plugins" not in cluster
    kinds = {doc["kind"] for doc in documents(files, DEMO + "db/cluster.yaml")}
    assert kinds == {"Cluster"}
    assert DEMO + "db/backup.sops.yaml" not in files
    assert [entry["name"] for entry in document(files, DEMO + "ks.yaml", "Kustomization")["spec"]["dependsOn"]] == [
        "cloudnative-pg"]


def test_dragonfly_resource_follows_the_keys(render):
    files = render({**DRAGONFLY, "dragonfly_replicas": 3, "dragonfly_maxmemory": "2gb", "dragonfly_memory_limit": "3Gi",
                    "dragonfly_cpu_request": "250m", "dragonfly_control_plane_only": True, "dragonfly_version": "v1.35.1"})
    spec = document(files, DRAGONFLY_CR, "Dragonfly")["spec"]
    assert spec["image"].endswith(":v1.35.1") and spec["replicas"] == 3
    assert "--maxmemory=2gb" in spec["args"]
    assert spec["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "3Gi"}}
    assert spec["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    assert "aclFromSecret" not in spec and "snapshot" not in spec
    operator = document(files, CACHE_FILES + "dragonfly/operator/helmrelease.yaml", "HelmRelease")["spec"]["values"]
    assert operator["manager"]["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    source = document(files, CACHE_FILES + "dragonfly/operator/ocirepository.yaml", "OCIRepository")
    assert source["spec"]["ref"]["tag"] == "v1.3.1"
    assert document(files, DRAGONFLY_SECRET, "Secret")["stringData"] == {"password": "df-default-pass"}


def test_acl_users_come_from_the_consumer_list(render):
    files = render(DRAGONFLY_ACL)
    spec = document(files, DRAGONFLY_CR, "Dragonfly")["spec"]
    assert spec["aclFromSecret"] == {"name": "dragonfly-auth", "key": "acl"}
    acl = document(files, DRAGONFLY_SECRET, "Secret")["stringData"]["acl"].splitlines()
    assert acl[0] == "user default on >df-default-pass ~* allchannels +@all"
    # appcache has its password and no app to wait for.
    users = {line.split()[1]: line for line in acl[1:]}
    assert set(users) == {"appcache"}
    assert "~cache:*" in users["appcache"].split() and "-@dangerous" in users["appcache"].split()
    # Keycloak caches in its own Infinispan: turning it on adds no cache user.
    files = render({**DRAGONFLY_ACL, **KEYCLOAK})
    acl = document(files, DRAGONFLY_SECRET, "Secret")["stringData"]["acl"].splitlines()
    assert [line.split()[1] for line in acl] == ["default", "appcache"]


def test_network_policy_admits_only_enabled_consumers(render):
    files = render({**DRAGONFLY_ACL, **NETWORK_POLICIES})
    policy = document(files, DRAGONFLY_POLICY, "CiliumNetworkPolicy", "dragonfly")["spec"]
    sources = [entry["matchLabels"]["io.kubernetes.pod.namespace"] for entry in policy["ingress"][0]["fromEndpoints"]]
    assert sources == ["default"] and "egress" not in policy
    files = render({**DRAGONFLY_ACL, **KEYCLOAK, **DRAGONFLY_BACKUP, **NETWORK_POLICIES})
    policy = document(files, DRAGONFLY_POLICY, "CiliumNetworkPolicy", "dragonfly")["spec"]
    sources = [entry["matchLabels"]["io.kubernetes.pod.namespace"] for entry in policy["ingress"][0]["fromEndpoints"]]
    assert sources == ["default"]
    assert policy["egress"][0]["toPorts"][0]["ports"][0]["port"] == "9000"
    # Nobody to admit, nothing to reach: only the operator's API policy.
    files = render({**DRAGONFLY, **NETWORK_POLICIES})
    assert [doc["metadata"]["name"] for doc in documents(files, DRAGONFLY_POLICY)] == ["dragonfly-operator"]


def test_dragonfly_snapshots_to_their_bucket(render):
    files = render({**DRAGONFLY_BACKUP, "dragonfly_snapshot_cron": "15 * * * *"})
    spec = document(files, DRAGONFLY_CR, "Dragonfly")["spec"]
    assert spec["snapshot"] == {"cron": "15 * * * *", "dir": "s3://dragonfly-backups/kubernetes"}
    assert "--s3_endpoint=rustfs-svc.storage.svc.cluster.local:9000" in spec["args"]
    env = {entry["name"]: entry for entry in spec["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {"name": "dragonfly-auth", "key": "s3-access-key"}
    secret = document(files, DRAGONFLY_SECRET, "Secret")["stringData"]
    assert secret["s3-access-key"] == "df-access" and secret["s3-secret-key"] == "df-secret-key"
    ks = document(files, CACHE_FILES + "dragonfly/ks.yaml", "Kustomization", "dragonfly")["spec"]
    assert ks["dependsOn"] == [{"name": "dragonfly-operator", "namespace": "cache"},
                               {"name": "rustfs-setup", "namespace": "storage"}]
    assert "for bucket in dragonfly-backups;" in bucket_script(files)


def test_setup_job_creates_every_enabled_backup_bucket(render):
    keycloak_backup = {**KEYCLOAK, "keycloak_s3_access_key": "kc-access", "keycloak_s3_secret_key": "kc-secret"}
    files = render({**CNPG_BACKUP, **DRAGONFLY_BACKUP, **keycloak_backup, "loki_enabled": True})
    assert ("for bucket in loki-chunks loki-ruler loki-admin cnpg-backups keycloak-backups dragonfly-backups;"
            in bucket_script(files))


@pytest.mark.parametrize("settings, key, message", [
    ({**DRAGONFLY, "dragonfly_maxmemory": "2gb"}, "dragonfly_maxmemory", "must be below dragonfly_memory_limit"),
    ({**DRAGONFLY, "dragonfly_password": "two words"}, "dragonfly_password", "must not contain spaces"),
    ({**PLUGIN, "cnpg_barman_plugin_version": "0.8.0"}, "cnpg_barman_plugin_version", "write one of 0.9.0"),
    ({**DRAGONFLY, "dragonfly_s3_endpoint": "http://rustfs:9000"}, "dragonfly_s3_endpoint", ""),
])
def test_data_layer_mistakes_are_refused(tmp_path, settings, key, message):
    project = initialized_copy(tmp_path / "repo")
    result = configure(project, settings)
    assert result.returncode != 0
    assert key in result.stderr and message in result.stderr and "Traceback" not in result.stderr
    assert "two words" not in result.stderr  # a secret value is never echoed


def test_a_new_consumer_is_one_entry_in_the_list(render, monkeypatch):
    """Keycloak, LiteLLM and Langfuse reuse DRAGONFLY_CONSUMERS: one more entry there gives an ACL
    user and an admitted namespace, with no template change."""
    from cluster_template.config.components.dragonfly import DRAGONFLY_CONSUMERS, CacheConsumer
    from cluster_template.derive import components

    reports = CacheConsumer("reports", "dragonfly_appcache_password", "reports", None, "~reports:* -@all +get")
    monkeypatch.setattr(components, "DRAGONFLY_CONSUMERS", (*DRAGONFLY_CONSUMERS, reports))
    files = render({**DRAGONFLY_ACL, **NETWORK_POLICIES})
    acl = document(files, DRAGONFLY_SECRET, "Secret")["stringData"]["acl"].splitlines()
    assert acl[-1] == "user reports on >df-appcache-pass ~reports:* -@all +get"
    policy = document(files, DRAGONFLY_POLICY, "CiliumNetworkPolicy", "dragonfly")["spec"]
    assert [entry["matchLabels"]["io.kubernetes.pod.namespace"]
            for entry in policy["ingress"][0]["fromEndpoints"]] == ["default", "reports"]


def context_for(render: Renderer, settings: dict[str, object]) -> dict:
    from cluster_template.ops.configure import build_context

    render.project.write("cluster.yaml", cluster_yaml(render.project, settings))
    return build_context(render.project.root, Executor())[1]


def test_app_databases_back_up_with_their_own_keys_or_the_shared_ones(render):
    keycloak = {**KEYCLOAK, "keycloak_db_mode": "cnpg", "keycloak_db_instances": 3}
    database = context_for(render, {**CNPG_BACKUP, **keycloak})["cnpg_databases"]["keycloak"]
    assert database == {
        "name": "keycloak", "namespace": "identity", "database": "keycloak", "owner": "keycloak",
        "password": "kc-db-pass", "instances": 3, "storage": "5Gi", "pgvector": False, "backup": True,
        "bucket": "cnpg-backups", "s3_access_key": "cnpg-access", "s3_secret_key": "cnpg-secret-key"}
    own = {"keycloak_s3_access_key": "kc-access", "keycloak_s3_secret_key": "kc-secret"}
    database = context_for(render, {**CNPG_BACKUP, **keycloak, **own})["cnpg_databases"]["keycloak"]
    assert (database["bucket"], database["s3_access_key"], database["backup"]) == ("keycloak-backups", "kc-access", True)
    database = context_for(render, {**CNPG, **keycloak})["cnpg_databases"]["keycloak"]
    assert database["backup"] is False
    # Embedded mode has no CNPG database.
    assert context_for(render, {**CNPG, **KEYCLOAK})["cnpg_databases"] == {}
