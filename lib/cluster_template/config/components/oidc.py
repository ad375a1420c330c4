"""OIDC at the gateway: JWT validation (Envoy Gateway SecurityPolicy for routes labelled
`security: jwt-protected`) and browser single sign-on with an OIDC client.

With Keycloak enabled, the issuer and JWKS URI default to Keycloak's (see derive/components.py)."""

from __future__ import annotations

from pydantic import Field

from ..base import Settings, is_set, rule, set_together
from ..types import HttpURL, secret
from ._shared import requires_values

OIDC_KEYS = ("oidc_issuer_url", "oidc_jwks_uri")


class OIDCSettings(Settings):
    oidc_issuer_url: HttpURL | None = Field(
        None, description="Issuer of the JWTs the gateway accepts; with oidc_jwks_uri. Default with Keycloak: its realm.")
    oidc_jwks_uri: HttpURL | None = Field(
        None, description="URL of the issuer's signing keys (JWKS). Default with Keycloak: its realm's certs endpoint.")
    oidc_provider_name: str | None = Field(
        None, min_length=1, description="Name of the JWT provider in the SecurityPolicy. Default: keycloak, or oidc.")
    oidc_sso_enabled: bool = Field(
        False, description="Browser sign-in at the gateway (needs an issuer and oidc_client_secret).")
    oidc_client_id: str = Field("envoy-gateway", min_length=1, description="OIDC client ID the gateway signs in with.")
    oidc_client_secret: str | None = secret(
        None, min_length=1, description="Client secret of that client (generate with openssl rand -hex 32).")


def oidc_configured(config) -> bool:
    """True when the user set both endpoints (Keycloak's defaults are applied when deriving)."""
    return all(is_set(getattr(config, key)) for key in OIDC_KEYS)


@rule
def oidc_keys_together(config, nodes):
    yield from set_together(config, OIDC_KEYS, "OIDC/JWT authentication")


@rule
def oidc_sso_prerequisites(config, nodes):
    if not config.oidc_sso_enabled:
        return
    if not is_set(config.oidc_issuer_url) and config.keycloak_enabled is not True:
        yield "oidc_sso_enabled", "requires oidc_issuer_url, or keycloak_enabled: true to use Keycloak's"
    yield from requires_values(config, ("oidc_client_secret",), "oidc_sso_enabled is true")
