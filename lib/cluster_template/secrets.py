"""Encrypt the rendered `*.sops.*` outputs, keeping the previous ciphertext when nothing changed.

sops produces new ciphertext on every call, so re-encrypting unchanged secrets would churn git on
every `configure`. Instead the current file is decrypted and compared with the new plaintext (as
YAML data, since sops re-indents); when they match and the file is encrypted for the current age
key, its bytes are kept as they are. Plaintext never touches the disk: sops reads it from stdin.

sops runs without the operator's `SOPS_*` settings (see `tools.sops`), and every file it returns
must be encrypted for exactly the configured age recipient and no other key: a foreign recipient
or a KMS/PGP key group means the rules were overridden, and the file is refused.
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .errors import ClusterTemplateError
from .readfile import UnreadableInput, read_text
from .run import Executor
from .tools import sops
from .yamlload import YamlError, load

# Key groups sops can encrypt a data key for besides age; the project configures none of them.
OTHER_KEY_GROUPS = ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault")

SOPS_CONFIG = ".sops.yaml"
PARALLEL_SOPS_CALLS = 4


class EncryptionError(ClusterTemplateError):
    """A secret could not be encrypted, or came out of sops unencrypted."""


def is_secret_path(path: str) -> bool:
    """Whether `path` is an output to encrypt (`*.sops.*`, but not the rules file itself)."""
    name = Path(path).name
    return ".sops." in name and name != SOPS_CONFIG


def _recipients(document: Any) -> set[str | None]:
    """The age recipients in the sops metadata; None for an entry without one (so it never equals a key)."""
    metadata = document.get("sops") if isinstance(document, dict) else None
    if not isinstance(metadata, dict):
        return set()
    return {entry.get("recipient") for entry in metadata.get("age") or [] if isinstance(entry, dict)}


def encrypted_for_exactly(document: Any, age_public_key: str) -> bool:
    """Whether a sops document's data key is encrypted for `age_public_key` and nothing else."""
    metadata = document.get("sops") if isinstance(document, dict) else None
    if not isinstance(metadata, dict) or any(metadata.get(group) for group in OTHER_KEY_GROUPS):
        return False
    return _recipients(document) == {age_public_key}


def _reusable(ex: Executor, current: Path, plaintext: Any, age_public_key: str, age_key_file: Path) -> bool:
    """Whether the file at `current` already holds `plaintext` (parsed), encrypted for `age_public_key`."""
    try:
        text = read_text(current, label=str(current))
    except (FileNotFoundError, UnreadableInput):
        return False
    try:
        if not encrypted_for_exactly(load(text, source=str(current)), age_public_key):
            return False
        decrypted = sops.decrypt(ex, current, age_key_file=age_key_file)
    except ClusterTemplateError:  # not YAML, or unreadable with this key: re-encrypt
        return False
    ex.redactor.add(decrypted)
    try:
        return load(decrypted, source=str(current), secret=True) == plaintext
    except YamlError:
        return False


def encrypt_outputs(
    ex: Executor,
    root: Path,
    rendered: Mapping[str, bytes],
    *,
    age_public_key: str,
    age_key_file: Path,
    known_changed: Collection[str] = (),
) -> dict[str, bytes]:
    """`rendered` with every secret replaced by its ciphertext (reused when unchanged). The secrets
    in `known_changed` are known to differ from their file (`secretrecord`), so it is not decrypted.

    In dry mode secrets that would change keep their plaintext in the returned mapping (so the plan
    can tell them apart); callers must not write that mapping anywhere."""
    secrets = sorted(path for path in rendered if is_secret_path(path))
    result = dict(rendered)
    if not secrets:
        return result
    if SOPS_CONFIG not in rendered:
        raise EncryptionError(f"no {SOPS_CONFIG} was rendered, so the secrets cannot be encrypted")

    with tempfile.TemporaryDirectory(prefix="cluster-template-sops-") as scratch:
        config = Path(scratch) / SOPS_CONFIG
        config.write_bytes(rendered[SOPS_CONFIG])  # creation rules: public key only

        def secure(path: str) -> tuple[str, bytes]:
            plaintext = rendered[path]
            # A value that broke the rendered YAML must not be quoted by the parser's message.
            parsed = load(plaintext.decode(), source=path, secret=True)
            current = root / path
            if path not in known_changed and _reusable(ex, current, parsed, age_public_key, age_key_file):
                return path, current.read_bytes()
            if ex.dry:
                return path, plaintext
            ciphertext = sops.encrypt_stdin(ex, plaintext, config=config, filename=path, age_key_file=age_key_file)
            check_encrypted(path, ciphertext, plaintext, age_public_key)
            return path, ciphertext.encode()

        with ThreadPoolExecutor(max_workers=PARALLEL_SOPS_CALLS) as pool:
            for path, content in pool.map(secure, secrets):
                result[path] = content
    return result


def check_encrypted(path: str, ciphertext: str, plaintext: bytes, age_public_key: str) -> None:
    """Refuse sops output that is not encrypted, or not for exactly the configured recipient."""
    document = load(ciphertext, source=path, secret=True)
    if not isinstance(document, dict) or "sops" not in document:
        raise EncryptionError(f"{path}: sops returned output without encryption metadata")
    if ciphertext.encode() == plaintext or "ENC[" not in ciphertext:
        raise EncryptionError(f"{path}: sops left every value unencrypted; check the rules in {SOPS_CONFIG}")
    if not encrypted_for_exactly(document, age_public_key):
        found = sorted(filter(None, _recipients(document))) + [
            group for group in OTHER_KEY_GROUPS if document["sops"].get(group)]
        raise EncryptionError(
            f"{path}: sops encrypted it for {', '.join(found) or 'no age recipient'} instead of exactly "
            f"{age_public_key} (age.key); check {SOPS_CONFIG} and any SOPS_* settings")
