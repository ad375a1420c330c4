"""The Talos secrets bundle, in the format `talosctl gen secrets` writes (v1.12 contract).

```yaml
cluster:            {id: <base64url(32 bytes)>, secret: <base64(32 bytes)>}
secrets:            {bootstraptoken: <6>.<16>, secretboxencryptionsecret: <base64(32 bytes)>}
trustdinfo:         {token: <6>.<16>}
certs:
    etcd:              {crt, key}   # ECDSA P-256 CA, O=etcd
    k8s:               {crt, key}   # ECDSA P-256 CA, O=kubernetes
    k8saggregator:     {crt, key}   # ECDSA P-256 CA, empty subject
    k8sserviceaccount: {key}        # RSA 4096 (older bundles: ECDSA P-256)
    os:                {crt, key}   # Ed25519 CA, O=talos
```

`crt`/`key` values are standard base64 of the whole PEM text. Bundles from older contracts carry
`aescbcencryptionsecret` instead of the secretbox secret; exactly one of the two must be present.
Text in, text out: the caller encrypts the dump with sops and stores it; nothing here touches files.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets as random_source
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from . import pki
from .errors import BundleProblem, SecretsBundleError
from .yamlio import dump_document, load_document

CA_VALIDITY = timedelta(hours=87600)  # 10 years, `secrets.CAValidityTime`
CLUSTER_ID_BYTES = 32
CLUSTER_SECRET_BYTES = 32
ENCRYPTION_SECRET_BYTES = 32
TOKEN_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
TOKEN_PATTERN = re.compile(r"^[0-9a-z]{6}\.[0-9a-z]{16}$")
# 256 % 36 == 4: bytes >= 252 are dropped so every character is equally likely (as Talos does).
_TOKEN_BYTE_LIMIT = 252

_SECTION_KEYS = {
    "cluster": ("id", "secret"),
    "secrets": ("bootstraptoken", "aescbcencryptionsecret", "secretboxencryptionsecret"),
    "trustdinfo": ("token",),
    "certs": ("etcd", "k8s", "k8saggregator", "k8sserviceaccount", "os"),
}


@dataclass(frozen=True)
class CertificateAndKey:
    """A certificate and its private key, each as standard base64 of the PEM text (as stored)."""

    crt: str
    key: str

    @property
    def crt_pem(self) -> bytes:
        return base64.b64decode(self.crt)

    @property
    def key_pem(self) -> bytes:
        return base64.b64decode(self.key)

    def as_pem_pair(self) -> pki.PemPair:
        return pki.PemPair(crt=self.crt_pem, key=self.key_pem)


@dataclass(frozen=True)
class SecretsBundle:
    """Every secret of a Talos cluster. Field values are exactly the strings of the YAML file."""

    cluster_id: str
    cluster_secret: str
    bootstrap_token: str
    trustd_token: str
    etcd: CertificateAndKey
    k8s: CertificateAndKey
    k8s_aggregator: CertificateAndKey
    k8s_service_account_key: str
    os: CertificateAndKey
    secretbox_encryption_secret: str = ""
    aescbc_encryption_secret: str = ""

    def secret_values(self) -> list[str]:
        """Every secret string of the bundle, for `Executor.redactor.add(*bundle.secret_values())`.

        Certificates are public and left out; private keys are given both as stored (base64) and
        as PEM text.
        """
        private_keys = [self.k8s_service_account_key, *(pair.key for pair in self.certificate_authorities().values())]
        values = [
            self.cluster_secret,
            self.bootstrap_token,
            self.trustd_token,
            self.secretbox_encryption_secret,
            self.aescbc_encryption_secret,
            *private_keys,
            *(base64.b64decode(key).decode("ascii", "replace") for key in private_keys if key),
        ]
        return [value for value in values if value]

    def certificate_authorities(self) -> dict[str, CertificateAndKey]:
        """The four CA pairs by their bundle key: `etcd`, `k8s`, `k8saggregator`, `os`."""
        return {"etcd": self.etcd, "k8s": self.k8s, "k8saggregator": self.k8s_aggregator, "os": self.os}


# ----------------------------------------------------------------------------------- generation


def generate_secrets(now: datetime | None = None) -> SecretsBundle:
    """A fresh bundle, as `talosctl gen secrets` makes it for the v1.12 contract.

    `now` is the NotBefore of every CA (defaults to the current UTC time; pass a timezone-aware
    datetime for reproducible validity windows). Keys, serials and tokens are always random.
    """
    start = now if now is not None else datetime.now(timezone.utc)
    if start.tzinfo is None:
        raise ValueError("`now` must be a timezone-aware datetime")

    def ca(organization: str | None, kind: pki.KeyKind) -> CertificateAndKey:
        pair = pki.new_certificate_authority(organization, kind, start, CA_VALIDITY)
        return CertificateAndKey(crt=pki.b64encode(pair.crt), key=pki.b64encode(pair.key))

    service_account_key = pki.encode_private_key(pki.new_private_key("rsa-4096"))
    return SecretsBundle(
        cluster_id=base64.urlsafe_b64encode(random_source.token_bytes(CLUSTER_ID_BYTES)).decode("ascii"),
        cluster_secret=pki.b64encode(random_source.token_bytes(CLUSTER_SECRET_BYTES)),
        bootstrap_token=new_token(),
        trustd_token=new_token(),
        secretbox_encryption_secret=pki.b64encode(random_source.token_bytes(ENCRYPTION_SECRET_BYTES)),
        etcd=ca("etcd", "ecdsa-p256"),
        k8s=ca("kubernetes", "ecdsa-p256"),
        k8s_aggregator=ca(None, "ecdsa-p256"),
        k8s_service_account_key=pki.b64encode(service_account_key),
        os=ca("talos", "ed25519"),
    )


def new_token() -> str:
    """A `[0-9a-z]{6}.[0-9a-z]{16}` token (the bootstrap and trustd token format)."""
    return f"{_token_part(6)}.{_token_part(16)}"


def _token_part(length: int) -> str:
    chars: list[str] = []
    while len(chars) < length:
        for byte in random_source.token_bytes(length * 2):
            if byte < _TOKEN_BYTE_LIMIT and len(chars) < length:
                chars.append(TOKEN_ALPHABET[byte % len(TOKEN_ALPHABET)])
    return "".join(chars)


# ----------------------------------------------------------------------------------- text form


def dump_secrets(bundle: SecretsBundle) -> str:
    """The bundle as YAML, byte-compatible with `talosctl gen secrets` output."""
    secrets_section: dict[str, str] = {"bootstraptoken": bundle.bootstrap_token}
    if bundle.aescbc_encryption_secret:
        secrets_section["aescbcencryptionsecret"] = bundle.aescbc_encryption_secret
    if bundle.secretbox_encryption_secret:
        secrets_section["secretboxencryptionsecret"] = bundle.secretbox_encryption_secret

    def pair(value: CertificateAndKey) -> dict[str, str]:
        return {"crt": value.crt, "key": value.key}

    return dump_document(
        {
            "cluster": {"id": bundle.cluster_id, "secret": bundle.cluster_secret},
            "secrets": secrets_section,
            "trustdinfo": {"token": bundle.trustd_token},
            "certs": {
                "etcd": pair(bundle.etcd),
                "k8s": pair(bundle.k8s),
                "k8saggregator": pair(bundle.k8s_aggregator),
                "k8sserviceaccount": {"key": bundle.k8s_service_account_key},
                "os": pair(bundle.os),
            },
        }
    )


def load_secrets(text: str, *, source: str = "talsecret") -> SecretsBundle:
    """Parse and validate a bundle (from this module or from `talosctl gen secrets`).

    Raises `SecretsBundleError` naming every missing, unknown or unusable field.
    """
    data = load_document(text, source=source)
    problems: list[BundleProblem] = []
    if not isinstance(data, Mapping):
        expected = "expected a mapping with cluster, secrets, trustdinfo, certs"
        raise SecretsBundleError([BundleProblem("(root)", expected)])
    for key in data:
        if key not in _SECTION_KEYS:
            problems.append(BundleProblem(str(key), "unknown key"))
    sections: dict[str, Mapping[str, Any]] = {}
    for section, known in _SECTION_KEYS.items():
        value = data.get(section)
        if value is None:
            problems.append(BundleProblem(section, "missing"))
            value = {}
        elif not isinstance(value, Mapping):
            problems.append(BundleProblem(section, "expected a mapping"))
            value = {}
        for key in value:
            if key not in known:
                problems.append(BundleProblem(f"{section}.{key}", "unknown key"))
        sections[section] = value

    def text_at(section: str, key: str, *, optional: bool = False) -> str:
        value = sections[section].get(key)
        if value is None or value == "":
            if not optional and section in data:
                problems.append(BundleProblem(f"{section}.{key}", "missing"))
            return ""
        if not isinstance(value, str):
            problems.append(BundleProblem(f"{section}.{key}", f"expected a string, got {type(value).__name__}"))
            return ""
        return value

    def pair_at(name: str, *, with_certificate: bool = True) -> tuple[str, str]:
        value = sections["certs"].get(name)
        if value is None:
            if "certs" in data:
                problems.append(BundleProblem(f"certs.{name}", "missing"))
            return "", ""
        if not isinstance(value, Mapping):
            problems.append(BundleProblem(f"certs.{name}", "expected a mapping with crt and key"))
            return "", ""
        allowed = ("crt", "key") if with_certificate else ("key",)
        for key in value:
            if key not in allowed:
                problems.append(BundleProblem(f"certs.{name}.{key}", "unknown key"))
        result = []
        for key in allowed:
            item = value.get(key)
            if item is None or item == "":
                problems.append(BundleProblem(f"certs.{name}.{key}", "missing"))
                item = ""
            elif not isinstance(item, str):
                problems.append(BundleProblem(f"certs.{name}.{key}", "expected a base64 string"))
                item = ""
            result.append(item)
        return (result[0], result[1]) if with_certificate else ("", result[0])

    texts = {
        "cluster_id": text_at("cluster", "id"),
        "cluster_secret": text_at("cluster", "secret"),
        "bootstrap_token": text_at("secrets", "bootstraptoken"),
        "aescbc_encryption_secret": text_at("secrets", "aescbcencryptionsecret", optional=True),
        "secretbox_encryption_secret": text_at("secrets", "secretboxencryptionsecret", optional=True),
        "trustd_token": text_at("trustdinfo", "token"),
    }
    pairs = {name: pair_at(name) for name in ("etcd", "k8s", "k8saggregator")}
    _, service_account_key = pair_at("k8sserviceaccount", with_certificate=False)
    pairs["os"] = pair_at("os")
    bundle = SecretsBundle(
        **texts,
        etcd=CertificateAndKey(*pairs["etcd"]),
        k8s=CertificateAndKey(*pairs["k8s"]),
        k8s_aggregator=CertificateAndKey(*pairs["k8saggregator"]),
        k8s_service_account_key=service_account_key,
        os=CertificateAndKey(*pairs["os"]),
    )
    problems.extend(_value_problems(bundle, skip={problem.field for problem in problems}))
    if problems:
        raise SecretsBundleError(problems)
    return bundle


def validate_secrets(bundle: SecretsBundle) -> None:
    """Check every value of an in-memory bundle; raises `SecretsBundleError` listing the problems."""
    required = {
        "cluster.id": bundle.cluster_id,
        "cluster.secret": bundle.cluster_secret,
        "secrets.bootstraptoken": bundle.bootstrap_token,
        "trustdinfo.token": bundle.trustd_token,
        "certs.k8sserviceaccount.key": bundle.k8s_service_account_key,
    }
    for name, pair in bundle.certificate_authorities().items():
        required[f"certs.{name}.crt"] = pair.crt
        required[f"certs.{name}.key"] = pair.key
    missing = [BundleProblem(path, "missing") for path, value in required.items() if not value]
    problems = missing + _value_problems(bundle, skip={problem.field for problem in missing})
    if problems:
        raise SecretsBundleError(problems)


def _value_problems(bundle: SecretsBundle, skip: set[str]) -> list[BundleProblem]:
    """Problems with the values themselves; fields already reported (in `skip`) are not rechecked."""
    problems: list[BundleProblem] = []

    def check(field: str, value: str, test: Any) -> None:
        if field in skip or not value:
            return
        message = test(value)
        if message:
            problems.append(BundleProblem(field, message))

    check("cluster.id", bundle.cluster_id, lambda v: _base64_problem(v, urlsafe=True))
    check("cluster.secret", bundle.cluster_secret, lambda v: _base64_problem(v, urlsafe=False))
    check("secrets.bootstraptoken", bundle.bootstrap_token, _token_problem)
    check("trustdinfo.token", bundle.trustd_token, lambda v: "must not contain spaces" if " " in v else None)
    already_reported = {"secrets", "secrets.secretboxencryptionsecret", "secrets.aescbcencryptionsecret"} & skip
    if not already_reported:
        if bundle.secretbox_encryption_secret and bundle.aescbc_encryption_secret:
            problems.append(
                BundleProblem("secrets", "only one of secretboxencryptionsecret and aescbcencryptionsecret is allowed")
            )
        elif not bundle.secretbox_encryption_secret and not bundle.aescbc_encryption_secret:
            problems.append(BundleProblem("secrets.secretboxencryptionsecret", "missing"))
    secretbox, aescbc = bundle.secretbox_encryption_secret, bundle.aescbc_encryption_secret
    check("secrets.secretboxencryptionsecret", secretbox, lambda v: _key_bytes_problem(v, (32,)))
    check("secrets.aescbcencryptionsecret", aescbc, lambda v: _key_bytes_problem(v, (16, 24, 32)))
    for name, pair in bundle.certificate_authorities().items():
        problems.extend(_pair_problems(f"certs.{name}", pair, skip))
    check("certs.k8sserviceaccount.key", bundle.k8s_service_account_key, _private_key_problem)
    return problems


def _base64_problem(value: str, *, urlsafe: bool) -> str | None:
    try:
        if urlsafe:
            base64.urlsafe_b64decode(value.encode("ascii"))
            if not re.fullmatch(r"[A-Za-z0-9_=-]+", value):
                return "not URL-safe base64"
        else:
            pki.b64decode(value)
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return "not valid base64"
    return None


def _token_problem(value: str) -> str | None:
    if TOKEN_PATTERN.match(value):
        return None
    return "must look like [0-9a-z]{6}.[0-9a-z]{16} (a Kubernetes bootstrap token)"


def _key_bytes_problem(value: str, sizes: tuple[int, ...]) -> str | None:
    try:
        size = len(pki.b64decode(value))
    except ValueError:
        return "not valid base64"
    if size not in sizes:
        return f"decodes to {size} bytes, expected {' or '.join(map(str, sizes))}"
    return None


def _private_key_problem(value: str) -> str | None:
    try:
        pki.load_private_key(pki.b64decode(value))
    except ValueError as err:
        return str(err)
    return None


def _pair_problems(prefix: str, pair: CertificateAndKey, skip: set[str]) -> list[BundleProblem]:
    problems: list[BundleProblem] = []
    certificate = key = None
    if pair.crt and f"{prefix}.crt" not in skip:
        try:
            certificate = pki.load_certificate(pki.b64decode(pair.crt))
        except ValueError as err:
            problems.append(BundleProblem(f"{prefix}.crt", str(err)))
    if pair.key and f"{prefix}.key" not in skip:
        try:
            key = pki.load_private_key(pki.b64decode(pair.key))
        except ValueError as err:
            problems.append(BundleProblem(f"{prefix}.key", str(err)))
    if certificate is not None:
        problems.extend(_ca_problems(prefix, certificate))
    if certificate is not None and key is not None and not pki.public_key_matches(certificate, key):
        problems.append(BundleProblem(f"{prefix}.key", "does not match the public key of the certificate"))
    return problems


def _ca_problems(prefix: str, certificate: Any) -> list[BundleProblem]:
    from cryptography import x509

    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return [BundleProblem(f"{prefix}.crt", "is not a CA certificate (no BasicConstraints)")]
    if not constraints.ca:
        return [BundleProblem(f"{prefix}.crt", "is not a CA certificate (CA:FALSE)")]
    return []
