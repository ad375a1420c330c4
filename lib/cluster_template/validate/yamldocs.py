"""YAML reading for the validator: YAML 1.2 (ruamel.yaml, safe), plain Python values out.

Also the handling of SOPS files: their `sops:` metadata block is not part of the object Flux applies,
and their encrypted values (`ENC[AES256_GCM,...]`) are replaced by a neutral marker that no schema
check holds against (see `neutral.py`), so only the document's structure is checked.
"""

from __future__ import annotations

import datetime
import io
import re
import threading
from typing import Any

from .neutral import SOPS_ENCRYPTED

_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)
_ENCRYPTED_VALUE = re.compile(r"^ENC\[[A-Z0-9_]+,data:.*\]$", re.DOTALL)
# Keys SOPS writes into its metadata block; used to tell it from a user field named `sops`.
_SOPS_METADATA_KEYS = {"mac", "lastmodified", "version"}

_local = threading.local()


class YamlSyntaxError(ValueError):
    """A YAML file or document could not be parsed; `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(message)


def _yaml():
    # ruamel.yaml objects are not thread-safe; keep one per thread.
    parser = getattr(_local, "yaml", None)
    if parser is None:
        from ruamel.yaml import YAML

        # YAML 1.2 is ruamel's default: `on`/`off`/`yes` stay strings, as in Go YAML decoders.
        parser = YAML(typ="safe", pure=True)
        parser.default_flow_style = False
        _local.yaml = parser
    return parser


def _fast_loader():
    """PyYAML's libyaml parser, resolving scalars like YAML 1.2 (only true/false are booleans, no
    base-60 numbers) and refusing duplicate keys, as the ruamel path does; None without libyaml.
    Parsing is most of the validator's time and libyaml is about ten times faster."""
    loader = getattr(_local, "fast_loader", False)
    if loader is not False:
        return loader
    try:
        import yaml
        from yaml import CSafeLoader
    except ImportError:
        _local.fast_loader = None
        return None

    class Yaml12Loader(CSafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (str, int, float, bool)) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"found duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    resolvers = {}
    for first, entries in CSafeLoader.yaml_implicit_resolvers.items():
        kept = [(tag, pattern) for tag, pattern in entries
                if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
        resolvers[first] = kept
    Yaml12Loader.yaml_implicit_resolvers = resolvers
    core_schema = (
        ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
        ("tag:yaml.org,2002:float",
         r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
         "-+0123456789."),
    )
    for tag, pattern, first in core_schema:
        Yaml12Loader.add_implicit_resolver(tag, re.compile(pattern), list(first))
    Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int12)
    _local.fast_loader = (Yaml12Loader, yaml)
    return _local.fast_loader


def _construct_int12(loader, node) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text)


def load_documents(text: str) -> list[Any]:
    """Every document of a YAML stream, as plain Python values (dates become ISO strings, as they
    reach the API server). Empty documents come back as None. Raises YamlSyntaxError."""
    memo = _memo
    if memo is None:
        return _parse(text)
    return memo.load(text)


def _parse(text: str) -> list[Any]:
    fast = _fast_loader()
    if fast is not None:
        loader_class, yaml = fast
        try:
            return [plain(doc) for doc in yaml.load_all(text, Loader=loader_class)]
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
            raise YamlSyntaxError(problem, line) from None
        except yaml.YAMLError as exc:
            raise YamlSyntaxError(str(exc).strip().splitlines()[0]) from None
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return [plain(doc) for doc in _yaml().load_all(text)]
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        raise YamlSyntaxError(problem, line) from None
    except YAMLError as exc:
        raise YamlSyntaxError(str(exc).strip().splitlines()[0]) from None


_memo: ParsedStreams | None = None  # the one in use (`ParsedStreams.using`), else None


class ParsedStreams:
    """YAML streams parsed by an earlier run, kept by a digest of their text, so a file that did not
    change is not parsed again (parsing is most of what is left of the validator's time).

    An entry is the marshalled list of documents: plain values only, and every load returns fresh
    objects, so no caller can change what another one reads. The key also digests this module's
    source and the parser in use (libyaml or ruamel, and its version). Only streams that parse are
    stored, so every syntax error is found afresh; `save` writes the streams read in this run alone
    (the cache never outgrows one tree), atomically, and anything unreadable in it is ignored."""

    FORMAT = b"parsed-yaml-1"

    def __init__(self, path):
        import hashlib
        from pathlib import Path

        self.path = Path(path)
        fast = _fast_loader()
        parser = f"libyaml {fast[1].__version__}" if fast is not None else "ruamel"
        self._salt = hashlib.sha256(self.FORMAT + b"\0" + parser.encode() + b"\0"
                                    + Path(__file__).read_bytes()).digest()
        self._old = self._read()
        self._used: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    def _read(self) -> dict:
        import marshal

        try:
            data = marshal.loads(self.path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            return {}
        if not isinstance(data, dict) or data.get(b"salt") != self._salt or not isinstance(data.get(b"streams"), dict):
            return {}
        return data[b"streams"]

    def load(self, text: str) -> list[Any]:
        import hashlib
        import marshal

        key = hashlib.sha256(self._salt + text.encode("utf-8", "surrogatepass")).digest()
        entry = self._used.get(key) or self._old.get(key)
        if isinstance(entry, bytes):
            try:
                documents = marshal.loads(entry)
            except (ValueError, EOFError, TypeError):
                documents = None
            if isinstance(documents, list):
                with self._lock:
                    self._used[key] = entry
                return documents
        documents = _parse(text)
        try:
            entry = marshal.dumps(documents)
        except ValueError:  # not plain values: never stored
            return documents
        with self._lock:
            self._used[key] = entry
        return marshal.loads(entry)  # the caller's copy is not the stored one

    def using(self):
        """Make `load_documents` read through this cache within a `with` block."""
        import contextlib

        @contextlib.contextmanager
        def active():
            global _memo
            previous, _memo = _memo, self
            try:
                yield self
            finally:
                _memo = previous

        return active()

    def save(self) -> None:
        """Write the streams of this run (best effort: a cache that cannot be written only costs time)."""
        import marshal
        import os

        if set(self._used) == set(self._old):
            return
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(marshal.dumps({b"salt": self._salt, b"streams": dict(self._used)}))
            os.replace(temporary, self.path)
        except OSError:
            temporary.unlink(missing_ok=True)


def dump_document(data: Any) -> str:
    """One document as block-style YAML text (used where Flux substitutes variables in text)."""
    stream = io.StringIO()
    _yaml().dump(data, stream)
    return stream.getvalue()


def document_texts(text: str, documents: list[Any]) -> list[str] | None:
    """The source text of each non-empty document of `text` (parsed as `documents`), in order.

    Flux substitutes variables in text as kustomize prints it, which keeps the quoting of the source
    (`"${PORT}"` stays a string). Splitting on `---` lines is checked against the real parse; when
    they disagree (directives, content on the `---` line), None is returned."""
    texts: list[str] = []
    parsed: list[Any] = []
    for chunk in _SEPARATOR.split(text):
        try:
            found = [doc for doc in load_documents(chunk) if doc is not None]
        except YamlSyntaxError:
            return None
        if len(found) > 1:
            return None
        if found:
            texts.append(chunk)
            parsed.append(without_sops(found[0]))
    wanted = [doc for doc in documents if doc is not None]
    return texts if parsed == wanted else None


def plain(value: Any) -> Any:
    """Recursively turn YAML-specific values into what JSON (and so the API server) would see."""
    if isinstance(value, dict):
        return {str(key) if not isinstance(key, str) else key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return value


def split_stream(text: str) -> list[str]:
    """Split kustomize output (`---` separator lines, one object each) into document texts."""
    documents: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.rstrip("\r\n") == "---":
            documents.append("".join(current))
            current = []
        else:
            current.append(line)
    documents.append("".join(current))
    return [doc for doc in documents if doc.strip()]


def is_sops_metadata(value: Any) -> bool:
    return isinstance(value, dict) and bool(_SOPS_METADATA_KEYS & value.keys())


def without_sops(document: Any) -> Any:
    """The document Flux would apply after decryption: no `sops:` block, and every encrypted value
    replaced by the neutral SOPS marker."""
    if not isinstance(document, dict):
        return document
    if is_sops_metadata(document.get("sops")):
        document = {key: value for key, value in document.items() if key != "sops"}
    return _neutralize_encrypted(document)


def _neutralize_encrypted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _neutralize_encrypted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_neutralize_encrypted(item) for item in value]
    if isinstance(value, str) and is_encrypted(value):
        return SOPS_ENCRYPTED
    return value


def is_encrypted(value: str) -> bool:
    return value.startswith("ENC[") and _ENCRYPTED_VALUE.match(value) is not None
