"""`inv validate` on the rendered sample: clean, then planted errors each caught by file and name."""

from __future__ import annotations

import re

import pytest

PLANTED = [
    ("wrong field in a HelmRelease", "kubernetes/apps/default/echo/app/helmrelease.yaml",
     lambda t: t.replace("  chartRef:", "  chartReff:"), r"helmrelease\.yaml\[0\] HelmRelease default/echo: spec.*chartReff"),
    ("unknown kind", "kubernetes/apps/default/echo/app/helmrelease.yaml",
     lambda t: t.replace("kind: HelmRelease", "kind: HelmReleasee"), r"helmrelease\.yaml\[0\] HelmReleasee .*no schema"),
    ("broken dependsOn", "kubernetes/apps/network/envoy-gateway/ks.yaml",
     lambda t: t.replace("- name: envoy-gateway\n", "- name: envoy-gatewayy\n", 1), r"envoy-gateway.*dependsOn.*envoy-gatewayy"),
    ("bad Talos field", "talos/patches/global/machine-kubelet.yaml",
     lambda t: t.replace("kubelet:", "kubelett:", 1), r"talos/patches/global/machine-kubelet\.yaml.*kubelett"),
]


def test_sample_validates_with_every_document_counted(configured_sample):
    result = configured_sample.inv("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert re.match(r"checked \d+ document\(s\) \(.*\): no errors", summary)
    for kind in ("HelmRelease", "Kustomization", "OCIRepository", "Secret", "Gateway", "CiliumLoadBalancerIPPool",
                 "Talos v1alpha1 patch", "talconfig"):
        assert f" {kind}," in summary or f" {kind})" in summary, kind


@pytest.mark.parametrize("case, path, edit, expected", PLANTED, ids=[p[0] for p in PLANTED])
def test_planted_error_is_caught_with_file_and_name(configured_sample, case, path, edit, expected):
    target = configured_sample.root / path
    original = target.read_text()
    edited = edit(original)
    assert edited != original, f"the edit for {case!r} did not apply"
    target.write_text(edited)
    result = configured_sample.inv("validate")
    assert result.returncode == 1
    assert re.search(expected, result.stdout), result.stdout
    assert "Traceback" not in result.stdout + result.stderr
