"""Native Talos v1.12 configuration: secrets bundle, per-node machine configs, talosctl client config.

Replaces `talosctl gen secrets`, `talosctl gen config` and talhelper. Everything is text in, text
out; writing the files (and encrypting the bundle) is the caller's job, through the executor.

```python
bundle = generate_secrets()                     # once; store dump_secrets(bundle) sops-encrypted
bundle = load_secrets(decrypted_text)           # later runs
configs = render_machine_configs(bundle, talconfig, base_dir)   # {hostname: multi-doc YAML}
issues = validate_machine_config(configs["k8s-0"], schema_path)  # [] when valid
client = render_talosconfig(bundle, talconfig, now=datetime.now(timezone.utc))
```
"""

from __future__ import annotations

from .errors import BundleProblem, PatchError, SecretsBundleError, TalconfigError, TalosYamlError
from .machineconfig import render_machine_configs
from .secrets import SecretsBundle, dump_secrets, generate_secrets, load_secrets, validate_secrets
from .talconfig import TalConfig, parse_talconfig
from .talosconfig import render_talosconfig
from .validate import MachineConfigIssue, validate_machine_config

__all__ = [
    "BundleProblem",
    "MachineConfigIssue",
    "PatchError",
    "SecretsBundle",
    "SecretsBundleError",
    "TalConfig",
    "TalconfigError",
    "TalosYamlError",
    "dump_secrets",
    "generate_secrets",
    "load_secrets",
    "parse_talconfig",
    "render_machine_configs",
    "render_talosconfig",
    "validate_machine_config",
    "validate_secrets",
]
