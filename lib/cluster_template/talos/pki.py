"""Keys and certificates shaped like the ones `talosctl` makes (siderolabs/crypto `x509`).

PEM labels follow that library: `EC PRIVATE KEY` (SEC1), `RSA PRIVATE KEY` (PKCS#1) and the
non-standard `ED25519 PRIVATE KEY` around a PKCS#8 body. A generic `PRIVATE KEY` (PKCS#8) block is
accepted when reading, as Talos does. In files, certificates and keys are stored as standard
base64 of the whole PEM text.

CA certificates: X.509 v3, random 128-bit serial, Subject = Issuer = `O=<org>` (or empty),
KeyUsage digitalSignature + keyCertSign (critical), ExtKeyUsage serverAuth + clientAuth,
BasicConstraints CA:TRUE (critical, no path length), and a Subject Key Identifier of 20 random
bytes, in that extension order.

`cryptography` is imported inside the functions (it is slow to import).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets as random_source
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

PEM_CERTIFICATE = "CERTIFICATE"
PEM_EC_KEY = "EC PRIVATE KEY"
PEM_RSA_KEY = "RSA PRIVATE KEY"
PEM_ED25519_KEY = "ED25519 PRIVATE KEY"
PEM_PKCS8_KEY = "PRIVATE KEY"
PRIVATE_KEY_LABELS = (PEM_EC_KEY, PEM_RSA_KEY, PEM_ED25519_KEY, PEM_PKCS8_KEY)

RSA_KEY_BITS = 4096
SERIAL_NUMBER_LIMIT = 2**128
SUBJECT_KEY_ID_BYTES = 20

KeyKind = Literal["ecdsa-p256", "ed25519", "rsa-4096"]

_PEM_BLOCK = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]+)-----\r?\n(?P<body>[A-Za-z0-9+/=\r\n]*?)-----END (?P=label)-----"
)


@dataclass(frozen=True)
class PemPair:
    """A PEM certificate and its PEM private key."""

    crt: bytes
    key: bytes


# ----------------------------------------------------------------------------------- encoding


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, on one line (how Talos stores PEM text in YAML)."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Strict standard base64; raises ValueError on anything else."""
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as err:
        raise ValueError(f"not standard base64: {err}") from err


def pem_encode(label: str, der: bytes) -> bytes:
    """A PEM block with 64-column base64 lines and a trailing newline, as Go's `pem.Encode`."""
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return ("\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n").encode("ascii")


def pem_decode(pem: bytes) -> tuple[str, bytes]:
    """Label and DER body of the first PEM block; raises ValueError when there is none."""
    match = _PEM_BLOCK.search(pem.decode("ascii", errors="replace"))
    if match is None:
        raise ValueError("no PEM block found")
    body = re.sub(r"\s+", "", match.group("body"))
    try:
        return match.group("label"), base64.b64decode(body, validate=True)
    except binascii.Error as err:
        raise ValueError(f"PEM body is not base64: {err}") from err


# ----------------------------------------------------------------------------------- keys


def new_private_key(kind: KeyKind) -> Any:
    """A fresh private key of the given kind."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if kind == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "rsa-4096":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS)
    raise ValueError(f"unknown key kind {kind!r}")


def encode_private_key(key: Any) -> bytes:
    """PEM text of a private key with the label siderolabs/crypto uses for its type."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ed25519.Ed25519PrivateKey):
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return pem_encode(PEM_ED25519_KEY, der)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        label = PEM_EC_KEY
    elif isinstance(key, rsa.RSAPrivateKey):
        label = PEM_RSA_KEY
    else:
        raise ValueError(f"unsupported private key type {type(key).__name__}")
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    return pem_encode(label, der)


def load_private_key(pem: bytes) -> Any:
    """The private key in `pem`; raises ValueError when it is missing, mislabelled or unreadable."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    label, der = pem_decode(pem)
    if label not in PRIVATE_KEY_LABELS:
        raise ValueError(f"unexpected PEM block {label!r}, expected one of {', '.join(PRIVATE_KEY_LABELS)}")
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError) as err:
        raise ValueError(f"cannot read the {label}: {err}") from err
    expected = {
        PEM_EC_KEY: ec.EllipticCurvePrivateKey,
        PEM_RSA_KEY: rsa.RSAPrivateKey,
        PEM_ED25519_KEY: ed25519.Ed25519PrivateKey,
    }
    wanted = expected.get(label)
    if wanted is not None and not isinstance(key, wanted):
        raise ValueError(f"the {label} block holds a different kind of key")
    return key


def load_certificate(pem: bytes) -> Any:
    """The X.509 certificate in `pem`; raises ValueError when it is missing or unreadable."""
    from cryptography import x509

    label, der = pem_decode(pem)
    if label != PEM_CERTIFICATE:
        raise ValueError(f"unexpected PEM block {label!r}, expected {PEM_CERTIFICATE}")
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as err:
        raise ValueError(f"cannot read the certificate: {err}") from err


def public_key_matches(certificate: Any, private_key: Any) -> bool:
    """Whether `private_key` belongs to the public key in `certificate`."""
    from cryptography.hazmat.primitives import serialization

    encoding, form = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    certified = certificate.public_key().public_bytes(encoding, form)
    return certified == private_key.public_key().public_bytes(encoding, form)


def key_kind_of(key: Any) -> KeyKind:
    """The kind of a private key, for issuing a client key of the same kind as its CA."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return "ecdsa-p256"
    if isinstance(key, rsa.RSAPrivateKey):
        return "rsa-4096"
    raise ValueError(f"unsupported private key type {type(key).__name__}")


# ----------------------------------------------------------------------------------- certificates


def _signature_hash(key: Any) -> Any:
    """The hash to sign with: none for Ed25519 (PureEd25519), SHA-256 otherwise."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _x509_time(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("certificate times must be timezone-aware datetimes")
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def _serial_number() -> int:
    # Go draws from [0, 2^128); X.509 wants a positive serial, so 0 is skipped.
    return random_source.randbelow(SERIAL_NUMBER_LIMIT - 1) + 1


def _organization_name(organizations: tuple[str, ...]) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations])


def new_certificate_authority(
    organization: str | None, key_kind: KeyKind, not_before: datetime, validity: timedelta
) -> PemPair:
    """A self-signed CA like `x509.NewSelfSignedCertificateAuthority` (see the module docstring).

    `organization=None` gives the empty subject of Talos's aggregator CA: the library it copies
    only keeps the Organization, so the CN it is asked for is dropped.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = new_private_key(key_kind)
    start = _x509_time(not_before)
    name = _organization_name((organization,) if organization else ())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + validity)
        .add_extension(
            _key_usage(cert_sign=True),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier(random_source.token_bytes(SUBJECT_KEY_ID_BYTES)), critical=False)
    )
    certificate = builder.sign(key, _signature_hash(key))
    return PemPair(crt=certificate.public_bytes(serialization.Encoding.PEM), key=encode_private_key(key))


def _key_usage(*, cert_sign: bool):
    """KeyUsage as Talos sets it: digital signature, plus certificate signing for a CA."""
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
        key_agreement=False, key_cert_sign=cert_sign, crl_sign=False, encipher_only=False, decipher_only=False,
    )


def new_client_certificate(
    ca: PemPair, organizations: tuple[str, ...], not_before: datetime, validity: timedelta
) -> PemPair:
    """A client certificate issued by `ca`, like `x509.NewKeyPair` for a Talos API client.

    The new key has the same kind as the CA key. The certificate has Subject `O=<organizations>`,
    no CN and no SANs, KeyUsage digitalSignature (critical), ExtKeyUsage clientAuth, no
    BasicConstraints, and an Authority Key Identifier taken from the CA (as Go adds it).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca_certificate = load_certificate(ca.crt)
    ca_key = load_private_key(ca.key)
    key = new_private_key(key_kind_of(ca_key))
    start = _x509_time(not_before)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_organization_name(organizations))
        .issuer_name(ca_certificate.subject)
        .public_key(key.public_key())
        .serial_number(_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + validity)
        .add_extension(
            _key_usage(cert_sign=False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    try:
        ski = ca_certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(
                key_identifier=ski.digest, authority_cert_issuer=None, authority_cert_serial_number=None
            ),
            critical=False,
        )
    except x509.ExtensionNotFound:
        pass  # Go only adds the identifier when the CA carries one
    certificate = builder.sign(ca_key, _signature_hash(ca_key))
    return PemPair(crt=certificate.public_bytes(serialization.Encoding.PEM), key=encode_private_key(key))
