"""`inv init` and `inv configure` end to end, on a small template set, with the real sops binary."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from cluster_template import outputs
from cluster_template.run import Executor
from cluster_template.tools.sops import sops_command

from ..conftest import Project


def decrypt(project: Project, path: str) -> str:
    return subprocess.run([sops_command(), "--decrypt", str(project.root / path)], capture_output=True, text=True,
                          env={**os.environ, "SOPS_AGE_KEY_FILE": str(project.root / "age.key")}, check=True).stdout


def generated(project: Project) -> dict[str, bytes]:
    return {k: v for k, v in project.snapshot().items()
            if k.startswith(("kubernetes/", "talos/", ".sops.yaml", outputs.MANIFEST_FILE))}


def without_caches(files: dict[str, bytes]) -> dict[str, bytes]:
    """Everything but `.inv/cache/` (compiled templates, builds and schema verdicts are not outputs)."""
    return {path: content for path, content in files.items() if not path.startswith(".inv/cache/")}


@pytest.mark.slow
def test_up_to_date_check_notices_every_kind_of_change(small):
    assert small.inv("configure", "--yes").returncode == 0
    assert small.inv("configure", "--yes").stdout.startswith("up to date")
    for change in (lambda: small.write("templates/config/kubernetes/apps/default/new.yaml.j2",
                                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new\n"),
                   lambda: small.write("kubernetes/apps/default/settings.yaml",
                                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: by-hand\n"),
                   lambda: (small.root / "github-push-token.txt").write_text("rotated-token\n"),
                   lambda: small.write("cluster.yaml", (small.root / "cluster.yaml").read_text() + "# note\n")):
        change()
        result = small.inv("configure", "--yes")
        assert result.returncode == 0 and "\ndone: " in result.stdout, result.stdout
        assert small.inv("configure", "--yes").stdout.startswith("up to date")


def test_init_creates_each_file_once_with_private_modes(project):
    first = project.inv("init")
    assert first.returncode == 0, first.stderr
    for name in ("age.key", "github-deploy.key", "github-push-token.txt"):
        assert stat.S_IMODE((project.root / name).stat().st_mode) == 0o600
    assert (project.root / "age.key").read_text().startswith("# public key: age1")
    assert (project.root / "github-deploy.key").read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    before = project.snapshot()
    second = project.inv("init")
    assert second.returncode == 0 and "nothing to do" in second.stdout
    assert project.snapshot() == before


def test_configure_renders_encrypts_and_is_idempotent(small):
    result = small.inv("configure", "--yes")
    assert result.returncode == 0, result.stderr
    files = generated(small)
    assert set(files) == {".sops.yaml", ".generated-files", "kubernetes/apps/default/secret.sops.yaml",
                          "kubernetes/apps/default/settings.yaml", "kubernetes/apps/default/spegel.yaml",
                          "talos/cluster-secret.sops.yaml"}
    secret = files["kubernetes/apps/default/secret.sops.yaml"].decode()
    assert "replace-me-with-your-cloudflare-api-token" not in secret and "ENC[AES256_GCM" in secret
    assert "name: cloudflare" in secret  # only data/stringData are encrypted
    assert "replace-me-with-your-cloudflare-api-token" in decrypt(small, "kubernetes/apps/default/secret.sops.yaml")
    token = (small.root / "github-push-token.txt").read_text().strip()
    assert token not in files["talos/cluster-secret.sops.yaml"].decode()
    assert token in decrypt(small, "talos/cluster-secret.sops.yaml")

    again = small.inv("configure", "--yes")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("up to date")
    forced = small.inv("configure", "--yes", "--force")  # the full pipeline, with nothing to change
    assert forced.returncode == 0, forced.stderr
    assert "create 0, update 0, remove 0" in forced.stdout
    assert generated(small) == files  # not one byte changed, ciphertext included


def test_dry_run_lists_changes_and_writes_nothing(small):
    assert small.inv("configure", "--yes").returncode == 0
    cluster = small.root / "cluster.yaml"
    cluster.write_text(cluster.read_text().replace("replace-me-with-your-cloudflare-api-token", "another-token-999"))
    before = small.snapshot()
    result = small.inv("--dry", "configure", "--yes")
    assert result.returncode == 0, result.stderr
    assert "would update: kubernetes/apps/default/secret.sops.yaml" in result.stderr
    assert "another-token-999" not in result.stdout + result.stderr
    assert small.snapshot() == before
    assert not (small.root / outputs.STAGING_DIR).exists()


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda t: t + "node_cidrr: 10.0.0.0/24\n", "cluster.yaml:"),
        (lambda t: t + "cilium_bgp_hold_time: soon\n", "cilium_bgp_hold_time"),
        (lambda t: t + "cluster_pod_cidr: 192.168.0.0/16\n", "overlaps node_cidr"),
        (lambda t: t.replace('cluster_gateway_addr: "192.168.1.21"', 'cluster_gateway_addr: "192.168.1.20"'),
         "already used by cluster_api_addr"),
        (lambda t: t + "keycloak_enabled: true\nkeycloak_db_mode: cnpg\n", "requires cnpg_enabled: true"),
    ],
)
def test_bad_config_is_refused_and_touches_nothing(small, edit, expected):
    assert small.inv("configure", "--yes").returncode == 0
    cluster = small.root / "cluster.yaml"
    cluster.write_text(edit(cluster.read_text()))
    before = small.snapshot()
    result = small.inv("configure", "--yes")
    assert result.returncode == 1
    assert expected in result.stderr and "Traceback" not in result.stderr + result.stdout
    assert small.snapshot() == before


def test_duplicate_node_address_is_refused(small):
    nodes = small.root / "nodes.yaml"
    nodes.write_text(nodes.read_text().replace('address: "192.168.1.11"', 'address: "192.168.1.10"'))
    result = small.inv("configure", "--yes")
    assert result.returncode == 1 and "nodes.yaml:" in result.stderr and "nodes[1].address" in result.stderr


def test_stale_generated_files_are_removed_but_user_files_kept(small):
    assert small.inv("configure", "--yes").returncode == 0
    user_file = small.write("kubernetes/apps/default/mine.yaml", "kept: true\n")
    nodes = small.root / "nodes.yaml"
    text = nodes.read_text()
    nodes.write_text(text[: text.index("  - name: \"k8s-1\"")])  # one node: spegel turns off
    result = small.inv("configure", "--yes")
    assert result.returncode == 0, result.stderr
    assert "remove: kubernetes/apps/default/spegel.yaml" in result.stderr
    assert not (small.root / "kubernetes/apps/default/spegel.yaml").exists()
    assert user_file.exists()


def test_overwriting_needs_confirmation_without_a_terminal(small):
    assert small.inv("configure", "--yes").returncode == 0
    cluster = small.root / "cluster.yaml"
    cluster.write_text(cluster.read_text() + 'cluster_svc_cidr: "10.96.0.0/16"\n')
    before = without_caches(small.snapshot())
    result = small.inv("configure")
    assert result.returncode == 3 and "--yes" in result.stderr
    assert without_caches(small.snapshot()) == before and not (small.root / outputs.STAGING_DIR).exists()


def test_interrupted_swap_is_completed_by_the_next_run(small):
    assert small.inv("configure", "--yes").returncode == 0
    root = small.root
    new = {".sops.yaml": (root / ".sops.yaml").read_bytes(), "kubernetes/apps/default/settings.yaml": b"x: 1\n"}
    ex = Executor()
    outputs.stage(ex, root, new)
    plan = outputs.plan_outputs(root, new)
    ex.write_file(root / outputs.STAGING_DIR / outputs.PLAN_FILE, plan.to_json())  # crash right after the commit point
    assert (root / "kubernetes/apps/default/settings.yaml").read_bytes() != b"x: 1\n"
    assert outputs.recover(ex, root) == "completed an interrupted `configure` swap"
    assert (root / "kubernetes/apps/default/settings.yaml").read_bytes() == b"x: 1\n"
    assert not (root / "kubernetes/apps/default/spegel.yaml").exists()
    assert not (root / outputs.STAGING_DIR).exists()


def test_staging_without_plan_is_discarded(small):
    assert small.inv("configure", "--yes").returncode == 0
    before = generated(small)
    outputs.stage(Executor(), small.root, {"kubernetes/apps/default/settings.yaml": b"half: written\n"})
    result = small.inv("configure", "--yes")
    assert "discarded the staging directory" in result.stderr
    assert generated(small) == before


def test_template_vars_redacts_secrets(small):
    result = small.inv("template.vars", "--json")
    assert result.returncode == 0, result.stderr
    import json

    context = json.loads(result.stdout)
    assert context["cloudflare_token"] == "[REDACTED]" and context["age_private_key"] == "[REDACTED]"
    assert context["coredns_addr"] == "10.43.0.10" and context["spegel_enabled"] is True
    assert "replace-me-with-your-cloudflare-api-token" not in result.stdout
    assert (small.root / "github-push-token.txt").read_text().strip() not in result.stdout


def test_second_mutating_task_is_refused_while_one_runs(small):
    import fcntl

    with open(small.root / ".inv.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("`inv configure` (pid 1)")
        held.flush()
        result = small.inv("configure", "--yes")
    assert result.returncode == 4 and "is running in this checkout" in result.stderr


def test_any_mutating_task_settles_an_interrupted_swap_first(small):
    assert small.inv("configure", "--yes").returncode == 0
    root = small.root
    new = {".sops.yaml": (root / ".sops.yaml").read_bytes(), "kubernetes/apps/default/settings.yaml": b"x: 2\n"}
    ex = Executor()
    outputs.stage(ex, root, new)
    ex.write_file(root / outputs.STAGING_DIR / outputs.PLAN_FILE, outputs.plan_outputs(root, new).to_json())
    result = small.inv("init")  # any task that takes the project lock
    assert result.returncode == 0, result.stderr
    assert "completed an interrupted `configure` swap" in result.stderr
    assert (root / "kubernetes/apps/default/settings.yaml").read_bytes() == b"x: 2\n"
    assert not (root / outputs.STAGING_DIR).exists()


def test_compiled_templates_are_kept_and_an_edited_macro_file_reaches_the_output(small):
    small.write("templates/config/_macros/label.j2", "#% macro label(name) %#old-#{ name }##% endmacro %#\n")
    small.write("templates/config/kubernetes/apps/default/labelled.yaml.j2",
                '#% import "_macros/label.j2" as m %#\n'
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: labelled\ndata:\n  label: #{ m.label('x') }#\n")
    assert small.inv("configure", "--yes").returncode == 0
    assert b"label: old-x" in (small.root / "kubernetes/apps/default/labelled.yaml").read_bytes()
    compiled = sorted((small.root / ".inv/cache/jinja").glob("*.jinja"))
    assert len(compiled) == len(list((small.root / "templates/config").rglob("*.j2")))  # the macro file too
    small.write("templates/config/_macros/label.j2", "#% macro label(name) %#new-#{ name }##% endmacro %#\n")
    result = small.inv("configure", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert b"label: new-x" in (small.root / "kubernetes/apps/default/labelled.yaml").read_bytes()
