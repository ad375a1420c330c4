"""Secrets only in sops: no credential value in any rendered file that sops does not encrypt.

A credential from the configuration (every key the model marks secret) or a local input (age key,
deploy key, push token, tunnel token) may appear only in a `*.sops.*` file, which is encrypted before
anything is written. Anywhere else (a ConfigMap, an annotation, a HelmRelease's values) it would
be committed to Git in clear. The value is looked for as written, line by line for multi-line
values (a key pasted into a block scalar is re-indented), and base64-encoded at each of the three
byte alignments, so a value encoded alone or inside a longer encoded blob (`user:password` in a
Secret's `data` or a ConfigMap) is found too, also when the encoding is wrapped over several lines
(`base64` and PEM wrap at 76 and 64 columns; YAML folds long scalars).
"""

from __future__ import annotations

import base64
import re
from itertools import chain
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..nested import mapping_or_empty
from ..secrets import is_secret_path
from .issues import ValidationIssue
from .yamldocs import YamlSyntaxError, load_documents

# Shorter values are not searched for: "admin", "true" or a port number occur in rendered files
# by chance, so every match would be noise. Eight characters is below any generated credential
# (init writes 32+), and a credential shorter than that is guessable whether it leaks or not.
MIN_LEAK_LENGTH = 8
_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$")
_BASE64_LINE = re.compile(r"^[A-Za-z0-9+/_-]+={0,2}$")
_BASE64_TAIL = re.compile(r"[A-Za-z0-9+/_-]+={0,2}$")


@dataclass(frozen=True)
class Needle:
    text: str
    form: str  # how the value appears: "as written", "base64-encoded"

    def found_in(self, line: str) -> bool:
        if self.text not in line:
            return False
        if self.form != "as written":
            return True
        # A value as written counts only as a whole token: the test value "backup-secret" is not
        # leaked by the name "talos-backup-secrets". Encoded forms sit inside longer base64 text.
        return re.search(rf"(?<![A-Za-z0-9]){re.escape(self.text)}(?![A-Za-z0-9])", line) is not None


def needles(secrets: Iterable[str]) -> list[Needle]:
    """Every form in which one of `secrets` would be recognised, longest first."""
    found: dict[str, str] = {}
    for secret in secrets:
        if not isinstance(secret, str):
            continue
        stripped = secret.strip()
        parts = [stripped] + [line.strip() for line in stripped.splitlines() if "-----" not in line]
        for part in parts:
            if len(part) < MIN_LEAK_LENGTH:
                continue
            found.setdefault(part, "as written")
            for encoded in _base64_forms(part.encode()):
                found.setdefault(encoded, "base64-encoded")
    return [Needle(text, form) for text, form in sorted(found.items(), key=lambda item: -len(item[0]))]


def _base64_forms(data: bytes) -> set[str]:
    """The base64 text `data` produces inside any longer encoded string: for each of the three
    offsets it can start at, the characters that depend on `data` alone (standard and URL-safe)."""
    forms: set[str] = set()
    for offset in range(3):
        padded = b"\0" * offset + data
        whole = len(padded) - len(padded) % 3
        encoded = base64.b64encode(padded[:whole]).decode()[(8 * offset + 5) // 6:]
        if len(encoded) >= MIN_LEAK_LENGTH:
            forms.add(encoded)
            forms.add(encoded.replace("+", "-").replace("/", "_"))
    return forms


def find_leaks(files: Mapping[str, bytes | str], secrets: Iterable[str]) -> list[ValidationIssue]:
    """One issue per document (outside `*.sops.*` files) holding a credential value, with its line."""
    patterns = needles(secrets)
    if not patterns:
        return []
    encoded = [needle for needle in patterns if needle.form != "as written"]
    issues: list[ValidationIssue] = []
    for rel in sorted(files):
        if is_secret_path(rel):  # encrypted before it is written; the rules file .sops.yaml is not
            continue
        data = files[rel]
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        for document in _documents(text):
            hits = chain(((number, _first(patterns, line)) for number, line in document.lines),
                         ((number, _first(encoded, line)) for number, line in _wrapped(document.lines)))
            number, needle = next(((number, hit) for number, hit in hits if hit is not None), (0, None))
            if needle is not None:  # one issue per document: the first line that holds a credential
                issues.append(ValidationIssue(
                    rel, document.index, document.kind, document.namespace, document.name, f"line {number}",
                    f"a credential from the configuration ({needle.form}) is in a file sops does not encrypt; "
                    f"move it into a *.sops.yaml Secret and reference that Secret (secretKeyRef, valuesFrom, "
                    f"substituteFrom) instead"))
    return issues


def _first(patterns: list[Needle], line: str) -> Needle | None:
    return next((needle for needle in patterns if needle.found_in(line)), None)


def _wrapped(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Base64 text wrapped over lines, joined: (first line number, the joined text) for each run of a
    line ending in base64 characters followed by lines of nothing else. Only encoded needles can
    match there (a joined run has no token boundaries)."""
    runs: list[tuple[int, str]] = []
    start = 0
    parts: list[str] = []
    for number, line in [*lines, (0, "")]:
        content = line.strip()
        if parts and _BASE64_LINE.match(content) and not parts[-1].endswith("="):
            parts.append(content)
            continue
        if len(parts) > 1:
            runs.append((start, "".join(parts)))
        tail = _BASE64_TAIL.search(content)
        start, parts = number, [tail.group(0)] if tail else []
    return runs


@dataclass
class _Document:
    index: int
    lines: list[tuple[int, str]]
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None


def _documents(text: str) -> list[_Document]:
    """The `---`-separated documents of a text with their line numbers and, when the document
    parses as a Kubernetes object, its kind, namespace and name."""
    documents = [_Document(0, [])]
    for number, line in enumerate(text.splitlines(), start=1):
        if _SEPARATOR.match(line):
            if any(content.strip() and not content.lstrip().startswith("#") for _, content in documents[-1].lines):
                documents.append(_Document(len(documents), []))
            continue
        documents[-1].lines.append((number, line))
    for document in documents:
        try:
            parsed = load_documents("\n".join(line for _, line in document.lines))
        except YamlSyntaxError:
            continue
        data = parsed[0] if parsed else None
        if isinstance(data, dict):
            metadata = mapping_or_empty(data.get("metadata"))
            document.kind = _text(data.get("kind"))
            document.namespace, document.name = _text(metadata.get("namespace")), _text(metadata.get("name"))
    return documents


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# The rendered outputs a tree holds (configure writes nothing else there).
RENDERED_ROOTS = ("kubernetes", "bootstrap", "talos", "infrastructure")
RENDERED_FILES = (".sops.yaml",)


def tracked_files(root: Path) -> dict[str, bytes]:
    """Every rendered output file of a tree, by path relative to `root`."""
    found: dict[str, bytes] = {}
    for top in RENDERED_ROOTS:
        for path in sorted((root / top).rglob("*")) if (root / top).is_dir() else ():
            if path.is_file():
                found[path.relative_to(root).as_posix()] = path.read_bytes()
    for name in RENDERED_FILES:
        if (root / name).is_file():
            found[name] = (root / name).read_bytes()
    return found
