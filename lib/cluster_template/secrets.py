"""Encrypt the rendered `*.sops.*` outputs, keeping the previous ciphertext when nothing changed.

sops produces new ciphertext on every call, so re-encrypting unchanged secrets would churn git on
every `configure`. Instead the current file is decrypted and compared with the new plaintext (as
YAML data, since sops re-indents); when they match and the file is encrypted for the current age
key, its bytes are kept as they are. Plaintext never touches the disk: sops reads it from stdin.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .errors import ClusterTemplateError
from .run import Executor
from .tools import sops

SOPS_CONFIG = ".sops.yaml"
PARALLEL_SOPS_CALLS = 4


class EncryptionError(ClusterTemplateError):
    """A secret could not be encrypted, or came out of sops unencrypted."""


def is_secret_path(path: str) -> bool:
    """Whether `path` is an output to encrypt (`*.sops.*`, but not the rules file itself)."""
    name = Path(path).name
    return ".sops." in name and name != SOPS_CONFIG


def _load_yaml(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def _recipients(document: Any) -> set[str]:
    metadata = document.get("sops") if isinstance(document, dict) else None
    if not isinstance(metadata, dict):
        return set()
    return {entry.get("recipient") for entry in metadata.get("age") or [] if isinstance(entry, dict)}


def _reusable(ex: Executor, current: Path, plaintext: bytes, age_public_key: str, age_key_file: Path) -> bool:
    """Whether the file at `current` already holds `plaintext`, encrypted for `age_public_key`."""
    if not current.is_file():
        return False
    try:
        if _recipients(_load_yaml(current.read_text())) != {age_public_key}:
            return False
        decrypted = sops.decrypt(ex, current, age_key_file=age_key_file)
    except ClusterTemplateError:
        return False  # unreadable with this key: re-encrypt
    except Exception:  # not YAML, not UTF-8: re-encrypt
        return False
    ex.redactor.add(decrypted)
    return _load_yaml(decrypted) == _load_yaml(plaintext.decode())


def encrypt_outputs(
    ex: Executor,
    root: Path,
    rendered: Mapping[str, bytes],
    *,
    age_public_key: str,
    age_key_file: Path,
) -> dict[str, bytes]:
    """`rendered` with every secret replaced by its ciphertext (reused when unchanged).

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
            current = root / path
            if _reusable(ex, current, plaintext, age_public_key, age_key_file):
                return path, current.read_bytes()
            if ex.dry:
                return path, plaintext
            ciphertext = sops.encrypt_stdin(ex, plaintext, config=config, filename=path, age_key_file=age_key_file)
            _check_encrypted(path, ciphertext, plaintext)
            return path, ciphertext.encode()

        with ThreadPoolExecutor(max_workers=PARALLEL_SOPS_CALLS) as pool:
            for path, content in pool.map(secure, secrets):
                result[path] = content
    return result


def _check_encrypted(path: str, ciphertext: str, plaintext: bytes) -> None:
    document = _load_yaml(ciphertext)
    if not isinstance(document, dict) or "sops" not in document:
        raise EncryptionError(f"{path}: sops returned output without encryption metadata")
    if ciphertext.encode() == plaintext or "ENC[" not in ciphertext:
        raise EncryptionError(f"{path}: sops left every value unencrypted; check the rules in {SOPS_CONFIG}")
