"""What the last successful configure proved about its outputs, so the next run need not prove it
again: which encrypted outputs still hold exactly what it would encrypt now (without asking sops),
and which plaintext contents the credential guard already searched.

`secrets.encrypt_outputs` keeps a secret's ciphertext when its decrypted content equals the new
plaintext, which costs one `sops --decrypt` per secret on every run. After a successful configure
this record (kept in configure's state file) holds, per secret: keyed digests of the plaintext it
was rendered from (its bytes, and its data as parsed) and a keyed seal of those and the bytes
written. On the
next run, for a file that still has the recorded bytes: the same plaintext (or the same data)
means the file holds it, so its bytes are kept and sops is not called; other data means it does
not, so it is encrypted without first being decrypted to find that out. Anything else (a file
edited or re-encrypted by hand, a record from another key, a damaged record) takes the full
`encrypt_outputs` path, so the record can only skip work, never change a result.

The digest is an HMAC keyed by the age private key (and the code that judged), over the rendered `.sops.yaml` (its creation
rules decide how a file is encrypted) and the plaintext: the state file lives in the repository
folder (git-ignored), and a plain hash of a rendered secret would let anyone who reads it test
guesses of a weak password offline. Without the age key the digests reveal nothing.

The credential guard's verdict on a file outside `*.sops.*` depends only on its bytes and the set
of credentials, so the record of a run holds a keyed digest of that set and the SHA-256 of every
such content (plaintext committed as it is: its digest tells nothing new); with the same set, a
content found there passed and is not searched again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .secrets import is_secret_path
from .yamlload import YamlError, load

STATE_KEY = "secrets"
SEARCHED_KEY = "guarded"
_CONTEXT = b"cluster-template configure secret record 2\0"


@dataclass(frozen=True)
class Verdict:
    kept: dict[str, bytes]  # path -> current bytes: the file holds the new plaintext, encrypted
    changed: frozenset[str]  # the file holds other data than the new plaintext: encrypt, no decrypt


# The code whose verdicts the record stands for: a change to how secrets are encrypted or reused,
# or to how the guard searches, makes every earlier record worthless.
_JUDGES = ("secretrecord.py", "secrets.py", "tools/sops.py", "validate/leaks.py")


def record_key(age_private_key: str) -> bytes:
    """The key of this checkout's records: the age private key and the code of `_JUDGES`."""
    digest = hashlib.sha256(_CONTEXT)
    here = Path(__file__).resolve().parent
    for name in _JUDGES:
        digest.update(name.encode() + b"\0" + hashlib.sha256((here / name).read_bytes()).digest())
    digest.update(age_private_key.encode())
    return digest.digest()


def credentials_digest(key: bytes, credentials: Iterable[str]) -> str:
    """A keyed digest of the set of credential values the guard searched the outputs for."""
    values = sorted(value.encode() for value in set(credentials))
    message = b"".join(len(value).to_bytes(8, "big") + value for value in values)
    return hmac.new(key, b"credentials\0" + message, hashlib.sha256).hexdigest()


def _mac(key: bytes, sops_rules: bytes, kind: bytes, message: bytes) -> str:
    return hmac.new(key, kind + b"\0" + hashlib.sha256(sops_rules).digest() + message, hashlib.sha256).hexdigest()


def _data_mac(key: bytes, sops_rules: bytes, path: str, plaintext: bytes) -> str:
    """Over the parsed plaintext, as `secrets` compares a decrypted file with it (sops re-indents)."""
    data = load(plaintext.decode(), source=path, secret=True)
    return _mac(key, sops_rules, b"data", json.dumps(data, sort_keys=True, default=str).encode())


def _seal(key: bytes, path: str, text_mac: str, data_mac: str, written: bytes) -> str:
    """Binds an entry to its path, its two digests and the bytes written, under the key: only this
    key's own entry for this very file matches."""
    message = "\0".join((path, text_mac, data_mac, hashlib.sha256(written).hexdigest())).encode()
    return hmac.new(key, b"seal\0" + message, hashlib.sha256).hexdigest()


def record(key: bytes, rendered: Mapping[str, bytes], written: Mapping[str, bytes], secrets: list[str],
           sops_rules: bytes, previous: Any = None) -> dict[str, list[str]]:
    """The record of the `secrets` paths of one run: its rendered plaintext (as bytes and as data)
    and the bytes written. An entry of `previous` for the same plaintext lends its data digest."""
    entries = {}
    for path in secrets:
        if path not in written:
            continue
        text_mac = _mac(key, sops_rules, b"text", rendered[path])
        old = _entry(previous, path)
        data_mac = old[1] if old and hmac.compare_digest(old[0], text_mac) else \
            _data_mac(key, sops_rules, path, rendered[path])
        entries[path] = [text_mac, data_mac, _seal(key, path, text_mac, data_mac, written[path])]
    return entries


def compare(root: Path, previous: Any, key: bytes, rendered: Mapping[str, bytes], secrets: list[str],
            sops_rules: bytes) -> Verdict:
    """What the record of the last run (`previous`, trusted in no part) proves about each secret's
    file: it holds the new plaintext (kept), or other data (changed). A secret with no entry, or
    whose file no longer has the recorded bytes, is in neither."""
    kept: dict[str, bytes] = {}
    changed = set()
    for path in secrets:
        entry = _entry(previous, path)
        if entry is None:
            continue
        try:
            current = (root / path).read_bytes()
        except OSError:
            continue
        if not hmac.compare_digest(entry[2], _seal(key, path, entry[0], entry[1], current)):
            continue  # another file, or an entry this key did not make
        if hmac.compare_digest(entry[0], _mac(key, sops_rules, b"text", rendered[path])):
            kept[path] = current
            continue
        try:
            same_data = hmac.compare_digest(entry[1], _data_mac(key, sops_rules, path, rendered[path]))
        except YamlError:
            continue  # encrypt_outputs reports it
        if same_data:
            kept[path] = current
        else:
            changed.add(path)
    return Verdict(kept, frozenset(changed))


def _entry(previous: Any, path: str) -> list[str] | None:
    entry = previous.get(path) if isinstance(previous, dict) else None
    if isinstance(entry, list) and len(entry) == 3 and all(isinstance(part, str) for part in entry):
        return entry
    return None


def unsearched(rendered: Mapping[str, bytes], previous: Any, searched_for: str) -> dict[str, bytes]:
    """The rendered files the credential guard has to read, given the record of the last search
    (`previous`, from `searched`) and the digest of the credentials searched for now."""
    if not isinstance(previous, dict) or previous.get("credentials") != searched_for \
            or not isinstance(previous.get("passed"), list):
        return dict(rendered)
    passed = set(previous["passed"])
    return {path: content for path, content in rendered.items() if hashlib.sha256(content).hexdigest() not in passed}


def searched(rendered: Mapping[str, bytes], searched_for: str) -> dict:
    """The record of a search that found nothing in `rendered`: its contents outside *.sops.*."""
    passed = {hashlib.sha256(content).hexdigest() for path, content in rendered.items() if not is_secret_path(path)}
    return {"credentials": searched_for, "passed": sorted(passed)}
