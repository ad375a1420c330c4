"""OIDC at the gateway: JWT validation (Envoy Gateway SecurityPolicy for routes labelled
`security: jwt-protected`) and browser single sign-on with an OIDC client (a second SecurityPolicy
for routes labelled `security: oidc-protected`, the seed's label).

With Keycloak enabled, the issuer and JWKS URI default to Keycloak's (see derive/components.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from ..base import Settings, is_set, rule, set_together
from ..types import HttpURL, secret
from ._shared import requires_values

OIDC_KEYS = ("oidc_issuer_url", "oidc_jwks_uri")
_COOKIE_DOMAIN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$"
Scope = Annotated[str, Field(pattern=r"^[\x21\x23-\x5b\x5d-\x7e]+$")]


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
    oidc_redirect_url: HttpURL | None = Field(
        None, description="Fixed callback URL of the sign-in (no wildcard). Default: the requested host's "
                          "/oauth2/callback, so one client serves every subdomain.")
    oidc_cookie_domain: str | None = Field(
        None, pattern=_COOKIE_DOMAIN,
        description="Domain of the session cookies; your top-level domain shares one sign-in across its "
                    "subdomains. Default: the requested host only.")
    oidc_cookie_samesite: Literal["Lax", "Strict", "None"] | None = Field(
        None, description="SameSite attribute of the session cookies. Default: unset (browsers treat it as Lax).")
    oidc_refresh_token: bool = Field(
        True, description="Refresh expired tokens with the refresh token instead of signing in again.")
    oidc_logout_path: str = Field(
        "/logout", pattern=r"^/[A-Za-z0-9._~/-]*$", description="Path on a protected route that signs out.")
    oidc_scopes: list[Scope] = Field(
        ["openid", "profile", "email"], min_length=1, description="Scopes requested at sign-in (openid is "
                                                                  "always requested).")

    @field_validator("oidc_redirect_url")
    @classmethod
    def _no_wildcard(cls, value: str | None) -> str | None:
        if value is not None and "*" in value:
            raise ValueError("a wildcard is sent literally (URL-encoded) and breaks the sign-in; leave "
                             "oidc_redirect_url unset so each host gets its own callback")
        return value


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


_SSO_SETTINGS = ("oidc_redirect_url", "oidc_cookie_domain", "oidc_cookie_samesite")


@rule
def oidc_sso_settings_need_sso(config, nodes):
    """oidc sign-in settings need oidc_sso_enabled (they shape a policy only it renders)."""
    if config.oidc_sso_enabled:
        return
    for key in _SSO_SETTINGS:
        if is_set(getattr(config, key)):
            yield key, "requires oidc_sso_enabled: true (it configures the gateway's browser sign-in)"
    defaults = type(config).model_fields
    for key in ("oidc_refresh_token", "oidc_logout_path", "oidc_scopes"):
        if getattr(config, key) != defaults[key].default:
            yield key, "requires oidc_sso_enabled: true (it configures the gateway's browser sign-in)"
