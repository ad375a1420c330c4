"""Which encrypted outputs still hold exactly what configure would encrypt now, without asking sops.

`secrets.encrypt_outputs` keeps a secret's ciphertext when its decrypted content equals the new
plaintext, which costs one `sops --decrypt` per secret on every run. After a successful configure
this record (kept in configure's state file) holds, per secret: a keyed digest of the plaintext it
was rendered from, and the SHA-256 of the bytes written. On the next run a secret whose new
plaintext has the same keyed digest and whose file still has the recorded bytes is known to hold it:
its bytes are kept as they are and sops is not called for it. Anything else (another plaintext, a
file edited or re-encrypted by hand, a record from another key, a damaged record) takes the
`encrypt_outputs` path, so the record can only skip work, never change a result.

The digest is an HMAC keyed by the age private key, over the rendered `.sops.yaml` (its creation
rules decide how a file is encrypted) and the plaintext: the state file lives in the repository
folder (git-ignored), and a plain hash of a rendered secret would let anyone who reads it test
guesses of a weak password offline. Without the age key the digests reveal nothing.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from pathlib import Path
from typing import Any

STATE_KEY = "secrets"
_CONTEXT = b"cluster-template configure secret record 1\0"


def record_key(age_private_key: str) -> bytes:
    return hashlib.sha256(_CONTEXT + age_private_key.encode()).digest()


def _plaintext_digest(key: bytes, sops_rules: bytes, plaintext: bytes) -> str:
    message = hashlib.sha256(sops_rules).digest() + plaintext
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def record(key: bytes, rendered: Mapping[str, bytes], written: Mapping[str, bytes], secrets: list[str],
           sops_rules: bytes) -> dict[str, list[str]]:
    """The record of the `secrets` paths of one run: rendered plaintext and written ciphertext."""
    return {path: [_plaintext_digest(key, sops_rules, rendered[path]), hashlib.sha256(written[path]).hexdigest()]
            for path in secrets if path in written}


def known_unchanged(root: Path, previous: Any, key: bytes, rendered: Mapping[str, bytes], secrets: list[str],
                    sops_rules: bytes) -> dict[str, bytes]:
    """{path: current bytes} of the `secrets` whose file provably holds the new plaintext encrypted
    (see the module docstring); `previous` is the record of the last run, trusted in no part."""
    if not isinstance(previous, dict):
        return {}
    kept: dict[str, bytes] = {}
    for path in secrets:
        entry = previous.get(path)
        if not (isinstance(entry, list) and len(entry) == 2 and all(isinstance(part, str) for part in entry)):
            continue
        if not hmac.compare_digest(entry[0], _plaintext_digest(key, sops_rules, rendered[path])):
            continue
        try:
            current = (root / path).read_bytes()
        except OSError:
            continue
        if hmac.compare_digest(entry[1], hashlib.sha256(current).hexdigest()):
            kept[path] = current
    return kept
