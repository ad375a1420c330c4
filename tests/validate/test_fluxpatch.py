from cluster_template.validate.fluxpatch import apply_patches

CHILD = {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
         "metadata": {"name": "echo", "namespace": "default", "labels": {"tier": "app"}},
         "spec": {"path": "./x", "postBuild": {"substitute": {"A": "1"}}, "patches": [{"patch": "old"}]}}

PATCH = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: all
spec:
  decryption:
    provider: sops
  postBuild:
    substituteFrom:
      - kind: Secret
        name: cluster-secrets
  patches:
    - patch: new
"""


def test_strategic_merge_by_target_merges_maps_and_replaces_lists():
    patched, problems = apply_patches(CHILD, [{"target": {"group": "kustomize.toolkit.fluxcd.io", "kind": "Kustomization"},
                                               "patch": PATCH}])
    assert problems == []
    assert patched["metadata"]["name"] == "echo"  # the patch's own name does not rename targets
    assert patched["spec"]["postBuild"] == {"substitute": {"A": "1"},
                                            "substituteFrom": [{"kind": "Secret", "name": "cluster-secrets"}]}
    assert patched["spec"]["patches"] == [{"patch": "new"}]
    assert patched["spec"]["decryption"] == {"provider": "sops"}
    assert CHILD["spec"]["patches"] == [{"patch": "old"}]  # input untouched


def test_non_matching_targets_leave_the_object_alone():
    for target in ({"kind": "HelmRelease"}, {"group": "apps"}, {"name": "other"}, {"labelSelector": "tier=db"},
                   {"namespace": "flux-system"}):
        assert apply_patches(CHILD, [{"target": target, "patch": PATCH}])[0] == CHILD


def test_selectors_and_name_regex():
    target = {"kind": "Kustomization", "name": "ec.*", "labelSelector": "tier=app,!missing"}
    assert "decryption" in apply_patches(CHILD, [{"target": target, "patch": PATCH}])[0]["spec"]


def test_delete_and_json6902():
    delete = "kind: Kustomization\nmetadata:\n  name: echo\nspec:\n  postBuild: null\n"
    assert "postBuild" not in apply_patches(CHILD, [{"patch": delete}])[0]["spec"]
    ops = "- op: replace\n  path: /spec/path\n  value: ./y\n- op: add\n  path: /spec/patches/-\n  value: {patch: z}\n"
    patched, problems = apply_patches(CHILD, [{"target": {"kind": "Kustomization"}, "patch": ops}])
    assert problems == [] and patched["spec"]["path"] == "./y" and patched["spec"]["patches"][-1] == {"patch": "z"}
    _, problems = apply_patches(CHILD, [{"target": {"kind": "Kustomization"},
                                         "patch": "- op: remove\n  path: /spec/nope/x\n"}])
    assert problems and "does not exist" in problems[0]
