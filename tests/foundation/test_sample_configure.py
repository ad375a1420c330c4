"""The bundled sample configuration, rendered with the real templates (what `make demo` does)."""

from __future__ import annotations

import os
import subprocess

from cluster_template.tools.sops import sops_command


def test_sample_renders_encrypts_and_is_stable(configured_sample):
    project = configured_sample
    files = project.snapshot()
    secrets = sorted(name for name in files if name.endswith(".sops.yaml") and name != ".sops.yaml")
    assert "bootstrap/sops-age.sops.yaml" in secrets
    assert "kubernetes/components/sops/cluster-secrets.sops.yaml" in secrets
    age_private = next(line for line in (project.root / "age.key").read_text().splitlines()
                       if line.startswith("AGE-SECRET-KEY-"))
    for name in secrets:
        text = files[name].decode()
        assert "ENC[AES256_GCM" in text and "\nsops:\n" in text, name
        assert age_private not in text and "replace-me-with-your-cloudflare-api-token" not in text, name
        plain = subprocess.run([sops_command(), "--decrypt", str(project.root / name)], capture_output=True, text=True,
                               env={**os.environ, "SOPS_AGE_KEY_FILE": str(project.root / "age.key")}, check=True).stdout
        assert "ENC[" not in plain
    age_secret = subprocess.run([sops_command(), "--decrypt", str(project.root / "bootstrap/sops-age.sops.yaml")],
                                capture_output=True, text=True, check=True,
                                env={**os.environ, "SOPS_AGE_KEY_FILE": str(project.root / "age.key")}).stdout
    assert age_private in age_secret

    again = project.inv("configure", "--yes", "--force")
    assert again.returncode == 0, again.stderr
    assert "create 0, update 0, remove 0" in again.stdout
    assert project.snapshot() == files
