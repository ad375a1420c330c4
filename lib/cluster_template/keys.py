"""Generation of the local credentials `inv init` creates: the age key, the deploy key, the push token.

This is the only place (with Talos secrets generation) where randomness enters the project; every
value is written once and reused by every later run.
"""

from __future__ import annotations

import secrets


def new_age_key() -> str:
    """An age identity in the file format age-keygen writes (public key as a comment)."""
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    return f"# public key: {identity.to_public()}\n{identity}\n"


def new_deploy_key(comment: str = "deploy-key") -> tuple[str, str]:
    """An ed25519 SSH key pair: (private key in OpenSSH format, public key line)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return private, f"{public} {comment}\n"


def new_push_token() -> str:
    """Token for the Flux webhook receiver (32 hex characters, as the seed makes it)."""
    return secrets.token_hex(16) + "\n"
