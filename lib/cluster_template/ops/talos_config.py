"""`inv talos.generate-config`: the Talos secrets bundle (created once, stored SOPS-encrypted as
talos/talsecret.sops.yaml) and, from it and the rendered talos/talconfig.yaml, one machine config per
node plus the talosconfig client file in talos/clusterconfig/ (git-ignored)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..errors import ClusterTemplateError
from .. import yamlload
from ..inputs import AGE_KEY_FILE, read_age_key
from ..readfile import UnreadableInput, read_text
from ..secrets import check_encrypted
from ..run import Executor
from ..tools import sops

TALOS_DIR = Path("talos")
TALCONFIG = TALOS_DIR / "talconfig.yaml"
SECRETS_FILE = TALOS_DIR / "talsecret.sops.yaml"
OUTPUT_DIR = TALOS_DIR / "clusterconfig"
TALOSCONFIG = OUTPUT_DIR / "talosconfig"


class TalosConfigInvalid(ClusterTemplateError):
    """A generated machine config failed validation against the Talos schema."""


@dataclass
class GeneratedTalosConfig:
    machine_configs: dict[str, Path] = field(default_factory=dict)  # hostname -> file
    changed: list[str] = field(default_factory=list)  # hostnames whose file was created or updated
    secrets_created: bool = False
    talosconfig_written: bool = False


def read_talconfig(root: Path):
    """The rendered talos/talconfig.yaml (which `template.tidy` invites editing), parsed and checked."""
    from ..talos import parse_talconfig

    try:
        text = read_text(root / TALCONFIG, label=str(TALCONFIG))
    except FileNotFoundError:
        raise ClusterTemplateError(f"{TALCONFIG} not found; run `inv configure` first") from None
    return parse_talconfig(yamlload.load(text, source=str(TALCONFIG)), source=str(TALCONFIG))


def age_public_key(root: Path) -> str:
    try:
        return read_age_key(root / AGE_KEY_FILE)[0]
    except (FileNotFoundError, ValueError, UnreadableInput) as exc:
        raise ClusterTemplateError(f"{AGE_KEY_FILE}: {exc}") from None


def load_stored_secrets(root: Path, ex: Executor):
    """The stored bundle, decrypted; every value is registered with the redactor first."""
    from ..talos import load_secrets

    text = sops.decrypt(ex, root / SECRETS_FILE, age_key_file=root / AGE_KEY_FILE)
    ex.redactor.add(text)
    bundle = load_secrets(text, source=str(SECRETS_FILE))
    ex.redactor.add(*bundle.secret_values())
    return bundle


def register_talos_secrets(root: Path, ex: Executor, machine_configs: Sequence[Path] = ()) -> None:
    """Before any Talos config or config diff is shown: register every secret of the bundle (when
    this checkout has one) and of the machine configs about to be applied with the redactor."""
    from ..talos.redaction import machine_config_secret_values

    if (root / SECRETS_FILE).is_file():
        load_stored_secrets(root, ex)
    for config in machine_configs:
        if config.is_file():
            ex.redactor.add(*machine_config_secret_values(config.read_text()))


def load_or_create_secrets(root: Path, ex: Executor):
    """(bundle, created): decrypt the stored bundle, or generate and store a new one."""
    from ..talos import dump_secrets, generate_secrets

    path = root / SECRETS_FILE
    if path.is_file():
        return load_stored_secrets(root, ex), False
    if not (root / ".sops.yaml").is_file():
        raise ClusterTemplateError(".sops.yaml not found; run `inv configure` first")
    bundle = generate_secrets()
    ex.redactor.add(*bundle.secret_values())
    ciphertext = sops.encrypt_stdin(ex, dump_secrets(bundle).encode(), config=root / ".sops.yaml",
                                    filename=str(SECRETS_FILE), age_key_file=root / AGE_KEY_FILE)
    if not ex.dry:
        check_encrypted(str(SECRETS_FILE), ciphertext, b"", age_public_key(root))
    ex.write_file(path, ciphertext, mode=0o600, label=str(SECRETS_FILE))
    return bundle, True


def generate_talos_config(root: Path, ex: Executor, *, schema: Path, rotate_talosconfig: bool = False,
                          now: datetime | None = None) -> GeneratedTalosConfig:
    from ..talos import render_machine_configs, render_talosconfig, validate_machine_config

    talconfig = read_talconfig(root)
    bundle, created = load_or_create_secrets(root, ex)
    result = GeneratedTalosConfig(secrets_created=created)
    configs = render_machine_configs(bundle, talconfig, root / TALOS_DIR, source=str(TALCONFIG))
    problems = []
    for hostname, text in configs.items():
        problems += [f"{hostname}: {issue}" for issue in validate_machine_config(text, schema)]
    if problems:
        raise TalosConfigInvalid("generated machine configs are invalid:\n" + "\n".join(f"  {p}" for p in problems))
    for hostname, text in configs.items():
        path = root / OUTPUT_DIR / f"{talconfig.cluster_name}-{hostname}.yaml"
        if ex.write_file(path, text, mode=0o600, label=str(path.relative_to(root))) != "unchanged":
            result.changed.append(hostname)
        result.machine_configs[hostname] = path
    client = root / TALOSCONFIG
    if rotate_talosconfig or not client.is_file():
        text = render_talosconfig(bundle, talconfig, now or datetime.now(timezone.utc))
        ex.write_file(client, text, mode=0o600, label=str(TALOSCONFIG))
        result.talosconfig_written = True
    return result
