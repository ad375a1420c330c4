"""The talosconfig client file: context, endpoints, nodes and an admin certificate from the OS CA."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from cluster_template.talos import render_talosconfig
from cluster_template.talos.pki import load_private_key
from cluster_template.talos.yamlio import load_document

from .conftest import fixture_talconfig

NOW = datetime(2026, 5, 4, 3, 2, 1, 987654, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def talosconfig(generated_bundle):
    talconfig, _ = fixture_talconfig("three-plus-three")
    return load_document(render_talosconfig(generated_bundle, talconfig, NOW))


def _client(talosconfig):
    context = talosconfig["contexts"]["lab"]
    certificate = x509.load_pem_x509_certificate(base64.b64decode(context["crt"]))
    key_pem = base64.b64decode(context["key"])
    return certificate, key_pem


def test_context_is_named_after_the_cluster(talosconfig):
    assert talosconfig["context"] == "lab"
    assert list(talosconfig["contexts"]) == ["lab"]
    assert list(talosconfig["contexts"]["lab"]) == ["endpoints", "nodes", "ca", "crt", "key"]


def test_endpoints_are_controllers_and_nodes_are_everyone(talosconfig):
    context = talosconfig["contexts"]["lab"]
    assert context["endpoints"] == ["10.20.0.11", "10.20.0.12", "10.20.0.13"]
    assert context["nodes"] == ["10.20.0.11", "10.20.0.12", "10.20.0.13", "10.20.0.21", "10.20.0.22", "10.20.0.23"]


def test_ca_is_the_os_ca_of_the_bundle(talosconfig, generated_bundle):
    assert talosconfig["contexts"]["lab"]["ca"] == generated_bundle.os.crt


def test_admin_certificate_is_signed_by_the_os_ca(talosconfig, generated_bundle):
    certificate, _ = _client(talosconfig)
    ca = x509.load_pem_x509_certificate(generated_bundle.os.crt_pem)
    assert certificate.issuer == ca.subject
    ca.public_key().verify(certificate.signature, certificate.tbs_certificate_bytes)  # raises if not
    assert [attribute.value for attribute in certificate.subject] == ["os:admin"]


def test_admin_certificate_validity_comes_from_now(talosconfig):
    certificate, _ = _client(talosconfig)
    start = NOW.replace(microsecond=0)
    assert certificate.not_valid_before_utc == start
    assert certificate.not_valid_after_utc == start + timedelta(days=365)


def test_admin_certificate_extensions_match_talos(talosconfig, generated_bundle):
    certificate, _ = _client(talosconfig)
    extensions = {ext.oid._name: ext for ext in certificate.extensions}
    assert list(extensions) == ["keyUsage", "extendedKeyUsage", "authorityKeyIdentifier"]
    usage = extensions["keyUsage"].value
    assert extensions["keyUsage"].critical and usage.digital_signature and not usage.key_cert_sign
    assert list(extensions["extendedKeyUsage"].value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ca = x509.load_pem_x509_certificate(generated_bundle.os.crt_pem)
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert extensions["authorityKeyIdentifier"].value.key_identifier == ca_ski
    assert 0 < certificate.serial_number < 2**128


def test_admin_key_is_ed25519_with_the_talos_label(talosconfig):
    certificate, key_pem = _client(talosconfig)
    assert key_pem.startswith(b"-----BEGIN ED25519 PRIVATE KEY-----\n")
    key = load_private_key(key_pem)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert key.public_key().public_bytes(*raw) == certificate.public_key().public_bytes(*raw)


def test_example_bundle_also_works(example_bundle):
    talconfig, _ = fixture_talconfig("one-plus-one")
    data = load_document(render_talosconfig(example_bundle, talconfig, NOW, ttl=timedelta(days=30)))
    context = data["contexts"]["home"]
    assert context["endpoints"] == ["10.10.0.11"] and context["nodes"] == ["10.10.0.11", "10.10.0.21"]
    certificate = x509.load_pem_x509_certificate(base64.b64decode(context["crt"]))
    assert certificate.not_valid_after_utc - certificate.not_valid_before_utc == timedelta(days=30)


def test_naive_now_is_refused(generated_bundle):
    talconfig, _ = fixture_talconfig("one-plus-one")
    with pytest.raises(ValueError, match="timezone-aware"):
        render_talosconfig(generated_bundle, talconfig, datetime(2026, 1, 1))
