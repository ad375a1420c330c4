"""The three guards on their own: credentials outside sops (`leaks`), floating versions (`pins`)
and files Flux never applies (`reach`). The same defects planted in the templates and refused by
`inv configure` are in test_guards_configure.py."""

from __future__ import annotations

import base64

import pytest

from cluster_template.validate.leaks import find_leaks, needles
from cluster_template.validate.pins import helmfile_problems, image_problem, object_problems, version_problem

from .test_validate_tree import ECHO_APP, only

SECRET = "s3cr3t-Value-0f-Some-Length"


# -- leaks ------------------------------------------------------------------------------------------


def configmap(line: str) -> str:
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: apps\n"
            f"data:\n{line}\n")


def test_a_credential_as_written_is_found_with_its_document_and_line():
    files = {"kubernetes/a.yaml": "---\n" + configmap(f"  token: {SECRET}"),
             "kubernetes/b.yaml": configmap("  token: unrelated")}
    [issue] = find_leaks(files, [SECRET])
    assert (issue.file, issue.index, issue.kind, issue.namespace, issue.name, issue.path) == \
        ("kubernetes/a.yaml", 0, "ConfigMap", "apps", "settings", "line 8")
    assert "sops does not encrypt" in issue.message and "as written" in issue.message
    assert SECRET not in str(issue)


def test_the_second_document_of_a_file_is_named():
    text = configmap("  a: b") + "---\n" + configmap(f"  token: {SECRET}").replace("settings", "other")
    [issue] = find_leaks({"kubernetes/a.yaml": text}, [SECRET])
    assert (issue.index, issue.name) == (1, "other")


def test_sops_files_may_hold_credentials_but_not_the_sops_rules_file():
    text = f"stringData:\n  token: {SECRET}\n"
    assert find_leaks({"kubernetes/secret.sops.yaml": text, "talos/talsecret.sops.yaml": text}, [SECRET]) == []
    # .sops.yaml holds the encryption rules and is written in clear; a folder named *.sops is no file.
    leaks = find_leaks({".sops.yaml": f"creation_rules:\n  - age: {SECRET}\n",
                        "kubernetes/apps/x.sops/secret.yaml": text}, [SECRET])
    assert [issue.file for issue in leaks] == [".sops.yaml", "kubernetes/apps/x.sops/secret.yaml"]


@pytest.mark.parametrize("prefix", ["", "u:", "us:", "user:"])
def test_base64_at_every_alignment_inside_a_longer_blob(prefix):
    encoded = base64.b64encode(f"{prefix}{SECRET}:tail".encode()).decode()
    [issue] = find_leaks({"kubernetes/a.yaml": configmap(f"  auth: {encoded}")}, [SECRET])
    assert "base64-encoded" in issue.message


def test_url_safe_base64_is_found():
    value = "\xff\xfe-secret-with-bytes-that-encode-to-plus-and-slash\xfb\xff"
    encoded = base64.urlsafe_b64encode(value.encode()).decode()
    assert "-" in encoded or "_" in encoded
    assert find_leaks({"kubernetes/a.yaml": configmap(f"  auth: {encoded}")}, [value])


def test_base64_wrapped_at_76_columns_is_found():
    """`base64` (and PEM) wrap their output; the value then spans lines of a block scalar."""
    long_secret = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW" \
        "QyNTUxOQAAACBzZWNyZXQ\n-----END OPENSSH PRIVATE KEY-----\n"
    encoded = base64.encodebytes(long_secret.encode()).decode()  # 76-column lines
    assert encoded.count("\n") > 2
    block = "".join(f"    {line}\n" for line in encoded.splitlines())
    [issue] = find_leaks({"kubernetes/a.yaml": configmap(f"  key: |\n{block}".rstrip("\n"))}, [long_secret])
    assert "base64-encoded" in issue.message and issue.path == "line 8"  # where the value starts


def test_base64_of_a_short_secret_wrapped_after_a_key_is_found():
    encoded = base64.b64encode(("x" * 70 + SECRET).encode()).decode()
    first, rest = encoded[:110], encoded[110:]  # the break falls inside the secret's characters
    assert not find_leaks({"kubernetes/a.yaml": configmap(f"  blob: {first}")}, [SECRET])
    text = configmap(f"  blob: {first}\n    {rest}")
    assert find_leaks({"kubernetes/a.yaml": text}, [SECRET])


def test_a_multi_line_credential_is_found_line_by_line():
    key = "-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\nCuZ2VuZXJhdGVkLWtleS1saW5lLXR3bw\n-----END KEY-----"
    text = configmap("  key: |\n    CuZ2VuZXJhdGVkLWtleS1saW5lLXR3bw")
    [issue] = find_leaks({"kubernetes/a.yaml": text}, [key])
    assert issue.path == "line 8"
    # The armour lines are in every key of that type: they are not needles.
    assert "-----BEGIN KEY-----" not in {needle.text for needle in needles([key])}


def test_a_value_counts_only_as_a_whole_token():
    assert find_leaks({"kubernetes/a.yaml": configmap("  name: talos-backup-secrets")}, ["backup-secret"]) == []
    assert find_leaks({"kubernetes/a.yaml": configmap("  name: backup-secret")}, ["backup-secret"])


def test_short_and_non_string_values_are_not_searched():
    assert needles(["admin", None, 5, "  "]) == []  # type: ignore[list-item]
    assert find_leaks({"kubernetes/a.yaml": configmap("  user: admin")}, ["admin"]) == []


def test_a_file_that_is_not_yaml_is_still_searched():
    [issue] = find_leaks({"kubernetes/script.sh": f"#!/bin/sh\ncurl -H 'X: {SECRET}' {{\n"}, [SECRET])
    assert (issue.file, issue.kind, issue.path) == ("kubernetes/script.sh", None, "line 2")


# -- pins -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.2.3", "v1.2.3", "1.0.0-rc.3", "2026.8.2", "v0.9.1+build.4",
                                     "RELEASE.2025-09-07T16-13-09Z", "1.2.3-alpine"])
def test_exact_versions_pass(version):
    assert version_problem(version, "chart x") is None


@pytest.mark.parametrize("version, cause", [
    (None, "has no version"), ("", "has no version"), ("latest", "not an exact version"),
    ("*", "not an exact version"), (">=1.0.0", "not an exact version"), ("1.x", "not an exact version"),
    ("16", "not an exact version"), ("1.2", "not an exact version"), ("~1.2.3", "not an exact version"),
])
def test_floating_versions_are_refused(version, cause):
    problem = version_problem(version, "chart x")
    assert problem is not None and cause in problem and "pin an exact version" in problem


@pytest.mark.parametrize("image, cause", [
    ("ghcr.io/example/app", "has no tag"), ("busybox", "has no tag"),
    ("ghcr.io/example/app:latest", "not an exact version"), ("postgres:16", "not an exact version"),
    ("localhost:5000/app", "has no tag"), ("ghcr.io/example/app@sha256:abc", "malformed digest"),
])
def test_floating_images_are_refused(image, cause):
    problem = image_problem(image)
    assert problem is not None and cause in problem


@pytest.mark.parametrize("image", ["ghcr.io/example/app:1.2.3", "localhost:5000/app:v2.0.1",
                                   "ghcr.io/example/app@sha256:" + "a" * 64, "ghcr.io/mendhak/http-https-echo:40"])
def test_pinned_images_pass(image):
    assert image_problem(image) is None


def test_oci_repository_refs():
    def problems(ref):
        return object_problems({"kind": "OCIRepository", "spec": {"url": "oci://x", **({"ref": ref} if ref else {})}})
    assert problems({"tag": "1.2.3"}) == [] and problems({"digest": "sha256:" + "0" * 64}) == []
    assert problems({"semver": "1.2.3"}) == []
    [(path, message)] = problems({"tag": "latest"})
    assert path == "spec.ref.tag" and "'latest' is not an exact version" in message
    [(path, message)] = problems({"semver": ">=1.0.0 <2.0.0"})
    assert path == "spec.ref.semver" and "a range" in message
    [(path, message)] = problems(None)
    assert path == "spec.ref" and "follows latest" in message


def test_helm_release_chart_version_and_values_images():
    release = {"kind": "HelmRelease", "spec": {
        "chart": {"spec": {"chart": "rustfs", "version": "*"}},
        "values": {"image": {"repository": "ghcr.io/a/b", "tag": "latest"},
                   "sidecar": {"image": "ghcr.io/a/c"},
                   "extraInitContainers": [{"image": "busybox:1.37.0"}],
                   "initContainers": [{"name": "x", "image": "busybox"}],
                   "chartDefault": {"repository": "ghcr.io/a/d"},
                   "bare": {"image": "busybox"},
                   "split": {"image": "ghcr.io/a/e", "tag": "latest"},
                   "pinnedSplit": {"image": "ghcr.io/a/f", "tag": "1.2.3"}}}}
    found = dict(object_problems(release))
    assert set(found) == {"spec.chart.spec.version", "spec.values.image.tag", "spec.values.sidecar.image",
                          "spec.values.initContainers[0].image", "spec.values.bare.image", "spec.values.split.tag"}
    assert "image 'ghcr.io/a/e' tag 'latest'" in found["spec.values.split.tag"]
    assert "chart 'rustfs' '*' is not an exact version" in found["spec.chart.spec.version"]
    without = {"kind": "HelmRelease", "spec": {"chart": {"spec": {"chart": "rustfs"}}}}
    assert "has no version" in dict(object_problems(without))["spec.chart.spec.version"]


def test_containers_of_any_object_and_helm_chart():
    job = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "containers": [{"name": "a", "image": "ghcr.io/x/y:1.0.0"}, {"name": "b", "image": "ghcr.io/x/z"}]}}}}}}
    assert object_problems(job) == [("spec.jobTemplate.spec.template.spec.containers[1].image",
                                     "image 'ghcr.io/x/z' has no tag (it means latest); pin an exact version "
                                     "(like 1.2.3) or a digest (@sha256:...)")]
    assert object_problems({"kind": "Pod", "spec": {"containers": [{"name": "a"}]}}) == \
        [("spec.containers[0].image", "a container without an image")]
    assert object_problems({"kind": "HelmChart", "spec": {"chart": "c", "version": "1.2.3"}}) == []
    assert object_problems({"kind": "HelmChart", "spec": {"chart": "c"}})[0][0] == "spec.version"


def test_helmfile_versions_literal_inherited_and_read_from_a_file(tmp_path):
    (tmp_path / "kubernetes/apps/kube-system/cilium/app").mkdir(parents=True)
    (tmp_path / "kubernetes/apps/kube-system/cilium/app/ocirepository.yaml").write_text(
        "spec:\n  ref:\n    tag: latest\n")
    (tmp_path / "bootstrap").mkdir()
    read = ('{{ (readFile (printf "../kubernetes/apps/%s/%s/app/ocirepository.yaml" .Release.Namespace '
            '.Release.Name) | fromYaml).spec.ref.tag }}')
    documents = [{"templates": {"base": {"version": "*"}}, "releases": [
        {"name": "ok", "chart": "oci://x/ok", "version": "1.2.3"},
        {"name": "inherited", "chart": "oci://x/i", "inherit": [{"template": "base"}]},
        {"name": "cilium", "namespace": "kube-system", "chart": "oci://x/c", "version": read},
        {"name": "missing", "namespace": "nowhere", "chart": "oci://x/m", "version": read},
        {"name": "unset", "chart": "oci://x/u"},
    ]}]
    issues = {issue.name: issue for issue in helmfile_problems(tmp_path, "bootstrap/apps.yaml", documents)}
    assert set(issues) == {"inherited", "cilium", "missing", "unset"}
    assert "'*' is not an exact version" in issues["inherited"].message
    assert "'latest' is not an exact version" in issues["cilium"].message
    assert "cannot be evaluated here (cannot read" in issues["missing"].message
    assert "has no version" in issues["unset"].message
    assert issues["cilium"].path == "releases[2].version"


def test_pins_run_on_the_built_tree_after_substitution(tree):
    tree.replace(f"{ECHO_APP}/ocirepository.yaml", "tag: 4.6.2", "tag: ${ECHO_CHART_TAG:=latest}")
    [issue] = tree.validate().errors
    assert (issue.file, issue.kind, issue.name, issue.path) == \
        (f"{ECHO_APP}/ocirepository.yaml", "OCIRepository", "echo", "spec.ref.tag")
    assert "'latest' is not an exact version" in issue.message


def test_an_image_set_by_substitution_must_resolve_to_a_pin(tree):
    tree.replace(f"{ECHO_APP}/deployment.yaml", "${SIDECAR_TAG:=1.0.0}", "${SIDECAR_TAG:=latest}")
    [issue] = tree.validate().errors
    assert issue.path == "spec.template.spec.containers[0].image" and "'latest'" in issue.message


# -- reach ------------------------------------------------------------------------------------------

ORPHAN_KS = """---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: orphan
  namespace: default
spec:
  interval: 1h
  path: ./kubernetes/apps/default/orphan/app
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
    namespace: flux-system
"""
ORPHAN_APP = ("---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
              "  - ./configmap.yaml\n")
ORPHAN_CONFIGMAP = "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: orphan\ndata:\n  a: b\n"


def plant_orphan(tree) -> None:
    tree.write("kubernetes/apps/default/orphan/ks.yaml", ORPHAN_KS)
    tree.write("kubernetes/apps/default/orphan/app/kustomization.yaml", ORPHAN_APP)
    tree.write("kubernetes/apps/default/orphan/app/configmap.yaml", ORPHAN_CONFIGMAP)


def test_a_folder_nothing_references_is_dead_file_by_file(tree):
    plant_orphan(tree)
    dead = sorted(issue.file for issue in tree.validate().errors if "dead file" in issue.message)
    assert dead == ["kubernetes/apps/default/orphan/app/configmap.yaml",
                    "kubernetes/apps/default/orphan/app/kustomization.yaml",
                    "kubernetes/apps/default/orphan/ks.yaml"]


def test_listing_the_ks_file_brings_its_whole_folder_to_life(tree):
    plant_orphan(tree)
    tree.replace("kubernetes/apps/default/kustomization.yaml", "  - ./echo/ks.yaml",
                 "  - ./echo/ks.yaml\n  - ./orphan/ks.yaml")
    report = tree.validate()
    assert report.ok, "\n".join(map(str, report.errors))


def test_a_file_its_folder_does_not_list_is_dead(tree):
    tree.write(f"{ECHO_APP}/forgotten.yaml", ORPHAN_CONFIGMAP)
    [issue] = tree.validate().errors
    assert issue.file == f"{ECHO_APP}/forgotten.yaml"
    assert "dead file: Flux never applies it" in issue.message and "kubernetes/flux/cluster" in issue.message


def test_a_kustomization_path_to_a_folder_without_kustomization_applies_every_yaml_below(tree):
    plant_orphan(tree)
    (tree.root / "kubernetes/apps/default/orphan/app/kustomization.yaml").unlink()
    tree.write("kubernetes/apps/default/orphan/app/nested/more.yaml", ORPHAN_CONFIGMAP.replace("orphan", "more"))
    tree.write("kubernetes/apps/default/orphan/app/notes.txt", "not applied\n")
    tree.replace("kubernetes/apps/default/kustomization.yaml", "  - ./echo/ks.yaml",
                 "  - ./echo/ks.yaml\n  - ./orphan/ks.yaml")
    dead = [issue.file for issue in tree.validate().errors if "dead file" in issue.message]
    assert dead == ["kubernetes/apps/default/orphan/app/notes.txt"]


def test_a_tree_without_the_flux_entry_point_is_not_checked_for_dead_files(tree):
    tree.write(f"{ECHO_APP}/forgotten.yaml", ORPHAN_CONFIGMAP)
    report = tree.validate(entry_points=("kubernetes/elsewhere",))
    assert not only(report, file=f"{ECHO_APP}/forgotten.yaml")
