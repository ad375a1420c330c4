"""`inv template.reset` and `inv template.tidy` on a project copy."""

from __future__ import annotations

import subprocess

from tests.conftest import copy_project

from .conftest import CLUSTER_YAML, make_day2

GENERATED = ["kubernetes/apps/default/echo/app/helmrelease.yaml", "kubernetes/flux/cluster/ks.yaml",
             "talos/talconfig.yaml", "talos/patches/global/machine-time.yaml", "bootstrap/helmfile.d/01-apps.yaml",
             ".sops.yaml"]
USER_FILES = {
    "cluster.yaml": CLUSTER_YAML,
    "nodes.yaml": "nodes: []\n",
    "age.key": "AGE-SECRET-KEY-1XXXX\n",
    "kubeconfig": "apiVersion: v1\n",
    "talos/talsecret.sops.yaml": "secrets: ENC[...]\n",
    "kubernetes/apps/default/mine/app/extra.yaml": "kind: ConfigMap\n",  # added by the operator
    "infrastructure/tofu/.terraform/terraform.tfstate": "{}\n",
}
MACHINE_CONFIGS = ["talos/clusterconfig/kubernetes-k8s-0.yaml", "talos/clusterconfig/talosconfig"]


def generated_project(tmp_path):
    project = copy_project(tmp_path / "repo")
    for relative in GENERATED + MACHINE_CONFIGS:
        project.write(relative, f"# generated: {relative}\n")
    for relative, text in USER_FILES.items():
        project.write(relative, text)
    project.write(".generated-files", "# Files written by `inv configure`\n"
                  + "".join(f"{path}\n" for path in GENERATED))
    return project


def test_template_reset_removes_only_generated_files(tmp_path):
    project = generated_project(tmp_path)

    result = project.inv("template.reset", "--yes", input="")

    assert result.returncode == 0, result.stderr
    for relative in GENERATED + MACHINE_CONFIGS + [".generated-files"]:
        assert not (project.root / relative).exists(), relative
    for relative, text in USER_FILES.items():
        assert (project.root / relative).read_text() == text, f"{relative} was kept as it was"
    assert not (project.root / "bootstrap").exists(), "folders left empty are removed"
    assert not (project.root / "talos/clusterconfig").exists()
    assert (project.root / "kubernetes/apps/default/mine/app").is_dir()


def test_template_reset_refuses_a_manifest_naming_files_configure_never_generates(tmp_path):
    # A hand-edited (or merged) manifest must not turn reset into a way to delete the config or the
    # Talos secrets bundle: the entry is named and nothing is removed.
    project = generated_project(tmp_path)
    project.write(".generated-files", (project.root / ".generated-files").read_text() + "cluster.yaml\ntalos/talsecret.sops.yaml\n")
    before = project.snapshot()

    result = project.inv("template.reset", "--yes", input="")

    assert result.returncode == 1
    assert "'cluster.yaml' is not a file `inv configure` generates" in result.stderr
    assert "Traceback" not in result.stderr
    assert project.snapshot() == before


def test_template_reset_asks_and_dry_run_removes_nothing(tmp_path):
    project = generated_project(tmp_path)
    before = project.snapshot()

    refused = project.inv("template.reset", input="")
    assert refused.returncode == 3 and "--yes" in refused.stderr

    dry = project.inv("--dry", "template.reset")
    assert dry.returncode == 0, dry.stderr
    assert f"would remove: {GENERATED[0]}" in dry.stderr
    assert project.snapshot() == before


def test_template_reset_refuses_a_manifest_entry_outside_the_repository(tmp_path):
    project = generated_project(tmp_path)
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    project.write(".generated-files", "kubernetes/flux/cluster/ks.yaml\n../precious.txt\n")

    result = project.inv("template.reset", "--yes")

    assert result.returncode == 1 and "not a path inside the repository" in result.stderr
    assert outside.read_text() == "keep me"
    assert (project.root / "kubernetes/flux/cluster/ks.yaml").exists(), "nothing removed at all"


def task_names(project) -> set[str]:
    """The task names `inv --list` shows (continuation lines of long help texts are indented more)."""
    result = project.inv("--list")
    assert result.returncode == 0, result.stderr
    return {line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ") and line[2] != " "}


def test_template_tidy_archives_and_can_be_undone(tmp_path):
    day2 = make_day2(tmp_path, controllers=1, workers=1)
    project = day2.project
    original_tasks = (project.root / "tasks.py").read_text()
    assert "template.vars" in task_names(project)

    refused = project.inv("template.tidy", input="")
    assert refused.returncode == 3
    assert (project.root / "templates").is_dir()

    result = project.inv("template.tidy", "--yes")

    assert result.returncode == 0, result.stderr
    (archive,) = list((project.root / ".private").iterdir())
    for relative in ("templates/samples/cluster.sample.yaml", "cluster.yaml", "nodes.yaml", "tasks/template.py",
                     "tasks.py", "RESTORE.txt"):
        assert (archive / relative).is_file(), relative
    for relative in ("templates", "cluster.yaml", "nodes.yaml", "tasks/template.py"):
        assert not (project.root / relative).exists(), relative
    assert (archive / "tasks.py").read_text() == original_tasks
    names = task_names(project)
    assert not [name for name in names if name.startswith("template.")]
    assert "configure" not in names and "init" not in names
    assert {"talos.upgrade", "talos.generate-config", "reconcile", "status", "validate"} <= names

    # Day-2 tasks keep working: the node inventory now comes from the rendered talconfig.
    unknown = day2.inv("talos.upgrade-node", "--ip", "10.0.0.99")
    assert unknown.returncode == 1 and "k8s-worker-0" in unknown.stderr and "10.0.0.12" in unknown.stderr

    restore = (archive / "RESTORE.txt").read_text()
    commands = [line for line in restore.splitlines() if line and not line.startswith("#")]
    subprocess.run(" && ".join(commands), shell=True, cwd=project.root, check=True)
    assert (project.root / "tasks.py").read_text() == original_tasks
    assert {"template.vars", "template.tidy", "configure", "init"} <= task_names(project)
    assert (project.root / "nodes.yaml").is_file()
