"""The secrets bundle: format parity with `talosctl gen secrets`, round trips, and validation errors."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cluster_template.errors import ClusterTemplateError
from cluster_template.talos import SecretsBundleError, dump_secrets, load_secrets, validate_secrets
from cluster_template.talos.pki import load_private_key
from cluster_template.talos.secrets import CertificateAndKey
from cluster_template.talos.yamlio import load_document

from .conftest import GENERATED_AT

TEN_YEARS = timedelta(hours=87600)
CA_EXPECTATIONS = {
    # bundle key: (organization or None for an empty subject, public key type, PEM key label)
    "etcd": ("etcd", ec.EllipticCurvePublicKey, "EC PRIVATE KEY"),
    "k8s": ("kubernetes", ec.EllipticCurvePublicKey, "EC PRIVATE KEY"),
    "k8saggregator": (None, ec.EllipticCurvePublicKey, "EC PRIVATE KEY"),
    "os": ("talos", ed25519.Ed25519PublicKey, "ED25519 PRIVATE KEY"),
}


def _shape(node):
    """Nested key structure with leaf types, to compare two bundles without their values."""
    if isinstance(node, dict):
        return {key: _shape(value) for key, value in node.items()}
    return type(node).__name__


def _pem(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _assert_talos_ca(certificate: x509.Certificate, organization, key_type) -> None:
    """The CA properties siderolabs/crypto gives every Talos CA."""
    assert certificate.version == x509.Version.v3
    assert isinstance(certificate.public_key(), key_type)
    if key_type is ec.EllipticCurvePublicKey:
        assert certificate.public_key().curve.name == "secp256r1"
        assert certificate.signature_hash_algorithm.name == "sha256"
    else:
        assert certificate.signature_hash_algorithm is None  # PureEd25519
    expected_name = [] if organization is None else [organization]
    assert [attr.value for attr in certificate.subject] == expected_name
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME) == []
    assert certificate.issuer == certificate.subject
    assert 0 < certificate.serial_number < 2**128
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == TEN_YEARS

    extensions = {ext.oid._name: ext for ext in certificate.extensions}
    assert list(extensions) == ["keyUsage", "extendedKeyUsage", "basicConstraints", "subjectKeyIdentifier"]
    usage = extensions["keyUsage"]
    assert usage.critical and usage.value.digital_signature and usage.value.key_cert_sign
    assert not (usage.value.key_encipherment or usage.value.crl_sign or usage.value.content_commitment)
    assert not extensions["extendedKeyUsage"].critical
    assert list(extensions["extendedKeyUsage"].value) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    constraints = extensions["basicConstraints"]
    assert constraints.critical and constraints.value.ca and constraints.value.path_length is None
    assert len(extensions["subjectKeyIdentifier"].value.digest) == 20


@pytest.mark.parametrize("which", ["example", "generated"])
def test_certificate_authorities_have_the_talos_shape(which, example_bundle_text, generated_bundle):
    """The same checks pass for talosctl's bundle and ours, so ours has talosctl's shape."""
    text = example_bundle_text if which == "example" else dump_secrets(generated_bundle)
    data = load_document(text)
    for name, (organization, key_type, label) in CA_EXPECTATIONS.items():
        certificate = x509.load_pem_x509_certificate(_pem(data["certs"][name]["crt"]))
        _assert_talos_ca(certificate, organization, key_type)
        key_pem = _pem(data["certs"][name]["key"]).decode()
        assert key_pem.startswith(f"-----BEGIN {label}-----\n")
        assert key_pem.endswith(f"-----END {label}-----\n")
        assert all(len(line) <= 64 for line in key_pem.splitlines())
        assert _pem(data["certs"][name]["crt"]).decode().endswith("-----END CERTIFICATE-----\n")


def test_generated_bundle_matches_the_talosctl_layout(example_bundle_text, generated_bundle):
    example = load_document(example_bundle_text)
    generated = load_document(dump_secrets(generated_bundle))
    assert _shape(generated) == _shape(example)
    assert list(generated) == ["cluster", "secrets", "trustdinfo", "certs"]
    assert list(generated["certs"]) == ["etcd", "k8s", "k8saggregator", "k8sserviceaccount", "os"]


def test_generated_values_have_the_talosctl_formats(generated_bundle):
    bundle = generated_bundle
    assert len(bundle.cluster_id) == 44 and re.fullmatch(r"[A-Za-z0-9_-]{43}=", bundle.cluster_id)
    assert len(base64.urlsafe_b64decode(bundle.cluster_id)) == 32
    assert len(base64.b64decode(bundle.cluster_secret, validate=True)) == 32
    assert len(base64.b64decode(bundle.secretbox_encryption_secret, validate=True)) == 32
    assert bundle.aescbc_encryption_secret == ""
    for token in (bundle.bootstrap_token, bundle.trustd_token):
        assert re.fullmatch(r"[0-9a-z]{6}\.[0-9a-z]{16}", token)
    assert bundle.bootstrap_token != bundle.trustd_token


def test_generated_validity_starts_at_now(generated_bundle):
    for pair in (generated_bundle.etcd, generated_bundle.k8s, generated_bundle.k8s_aggregator, generated_bundle.os):
        certificate = x509.load_pem_x509_certificate(pair.crt_pem)
        assert certificate.not_valid_before_utc == GENERATED_AT
        assert certificate.not_valid_after_utc == GENERATED_AT + TEN_YEARS


def test_generated_service_account_key_is_rsa_4096(generated_bundle):
    pem = _pem(generated_bundle.k8s_service_account_key).decode()
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----\n")
    key = load_private_key(pem.encode())
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 4096


def test_each_ca_key_matches_its_certificate(generated_bundle):
    from cryptography.hazmat.primitives import serialization

    for pair in (generated_bundle.etcd, generated_bundle.k8s, generated_bundle.k8s_aggregator, generated_bundle.os):
        certificate = x509.load_pem_x509_certificate(pair.crt_pem)
        key = load_private_key(pair.key_pem)
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        assert key.public_key().public_bytes(serialization.Encoding.DER, spki) == certificate.public_key().public_bytes(
            serialization.Encoding.DER, spki
        )


def test_two_bundles_share_nothing():
    from cluster_template.talos import generate_secrets

    first, second = generate_secrets(), generate_secrets()
    assert first.cluster_id != second.cluster_id
    assert first.os.key != second.os.key
    assert first.k8s_service_account_key != second.k8s_service_account_key


# ----------------------------------------------------------------------------------- round trips


def test_example_bundle_round_trips_byte_for_byte(example_bundle_text):
    """Loading talosctl's file and dumping it again gives talosctl's bytes (minus its comment line)."""
    without_comments = "".join(line for line in example_bundle_text.splitlines(True) if not line.startswith("#"))
    assert dump_secrets(load_secrets(example_bundle_text)) == without_comments


def test_generated_bundle_round_trips(generated_bundle):
    text = dump_secrets(generated_bundle)
    assert load_secrets(text) == generated_bundle
    assert dump_secrets(load_secrets(text)) == text


def test_example_bundle_with_ec_service_account_key_is_accepted(example_bundle):
    key = load_private_key(_pem(example_bundle.k8s_service_account_key))
    assert isinstance(key, ec.EllipticCurvePrivateKey)


def test_old_aescbc_bundle_is_accepted(example_bundle):
    secret = base64.b64encode(bytes(range(32))).decode()
    text = dump_secrets(example_bundle).replace(
        f"secretboxencryptionsecret: {example_bundle.secretbox_encryption_secret}", f"aescbcencryptionsecret: {secret}"
    )
    bundle = load_secrets(text)
    assert bundle.aescbc_encryption_secret == secret and bundle.secretbox_encryption_secret == ""


def test_secret_values_cover_keys_but_not_certificates(example_bundle):
    values = example_bundle.secret_values()
    assert example_bundle.os.key in values
    assert example_bundle.cluster_secret in values
    assert example_bundle.bootstrap_token in values
    assert _pem(example_bundle.os.key).decode() in values
    assert example_bundle.os.crt not in values


# ----------------------------------------------------------------------------------- errors


def _problems(text: str) -> dict[str, str]:
    with pytest.raises(SecretsBundleError) as caught:
        load_secrets(text)
    assert isinstance(caught.value, ClusterTemplateError)
    return {problem.field: problem.message for problem in caught.value.problems}


def test_missing_field_is_named(example_bundle_text):
    text = "\n".join(line for line in example_bundle_text.splitlines() if "bootstraptoken" not in line)
    problems = _problems(text)
    assert problems == {"secrets.bootstraptoken": "missing"}


def test_missing_certificate_pair_is_named(example_bundle):
    text = dump_secrets(example_bundle)
    data = load_document(text)
    del data["certs"]["k8saggregator"]
    from cluster_template.talos.yamlio import dump_document

    assert _problems(dump_document(data)) == {"certs.k8saggregator": "missing"}


def test_unknown_key_is_named(example_bundle_text):
    problems = _problems(example_bundle_text.replace("trustdinfo:", "trustdinfo:\n    extra: 1", 1))
    assert problems == {"trustdinfo.extra": "unknown key"}


def test_unparseable_certificate_and_key_are_named(example_bundle):
    garbage = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").decode()
    text = dump_secrets(example_bundle).replace(example_bundle.etcd.crt, garbage)
    text = text.replace(example_bundle.k8s_service_account_key, "bm90IGEga2V5")
    problems = _problems(text)
    assert set(problems) == {"certs.etcd.crt", "certs.k8sserviceaccount.key"}
    assert "cannot read the certificate" in problems["certs.etcd.crt"]
    assert "no PEM block" in problems["certs.k8sserviceaccount.key"]


def test_key_that_does_not_match_its_certificate_is_refused(example_bundle):
    text = dump_secrets(example_bundle).replace(
        f"    k8s:\n        crt: {example_bundle.k8s.crt}\n        key: {example_bundle.k8s.key}",
        f"    k8s:\n        crt: {example_bundle.k8s.crt}\n        key: {example_bundle.etcd.key}",
    )
    assert _problems(text) == {"certs.k8s.key": "does not match the public key of the certificate"}


def test_malformed_token_and_encryption_secret_are_refused(example_bundle):
    text = dump_secrets(example_bundle).replace(example_bundle.bootstrap_token, "NOT-A-TOKEN")
    text = text.replace(example_bundle.secretbox_encryption_secret, base64.b64encode(b"short").decode())
    problems = _problems(text)
    assert set(problems) == {"secrets.bootstraptoken", "secrets.secretboxencryptionsecret"}
    assert "decodes to 5 bytes" in problems["secrets.secretboxencryptionsecret"]


def test_both_encryption_secrets_are_refused(example_bundle):
    secret = base64.b64encode(bytes(32)).decode()
    both = f"aescbcencryptionsecret: {secret}\n    secretboxencryptionsecret"
    text = dump_secrets(example_bundle).replace("secretboxencryptionsecret", both, 1)
    assert "only one of" in _problems(text)["secrets"]


def test_not_a_mapping_is_refused():
    assert _problems("- just\n- a list\n") == {"(root)": "expected a mapping with cluster, secrets, trustdinfo, certs"}


def test_validate_secrets_checks_an_in_memory_bundle(example_bundle):
    from dataclasses import replace

    validate_secrets(example_bundle)
    broken = replace(example_bundle, os=CertificateAndKey(crt=example_bundle.os.crt, key=""), cluster_id="")
    with pytest.raises(SecretsBundleError) as caught:
        validate_secrets(broken)
    assert caught.value.fields == ["cluster.id", "certs.os.key"]
