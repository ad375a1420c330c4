"""Browser sign-in at the gateway (`oidc_sso_enabled`): an Envoy Gateway SecurityPolicy with `spec.oidc`
for HTTPRoutes labelled `security: oidc-protected`, and its client secret sealed by sops.

- rendered in-process: off renders neither file; on renders exactly the policy the settings ask for,
  with Keycloak's issuer when no issuer is given;
- the settings' rules: each sign-in setting needs oidc_sso_enabled, no wildcard redirect URL;
- end to end: `inv configure --yes` with every setting validates, and the client secret is only in
  the encrypted file.
"""

from __future__ import annotations

import pytest

from tests.components.test_platform import (
    KEYCLOAK,
    OIDC,
    Renderer,
    assert_kustomizations_complete,
    cluster_yaml,
    document,
    documents,
    initialized_copy,
)
from tests.config.test_components import rule_issues

CONFIG = "kubernetes/apps/network/envoy-gateway/config/"
POLICY = CONFIG + "securitypolicy-oidc.yaml"
SECRET = CONFIG + "secret-oidc.sops.yaml"
CLIENT_SECRET = "6f1d0c2b9a8e7d6c5b4a39281706f5e4"
SSO = {**OIDC, "oidc_sso_enabled": True, "oidc_client_secret": CLIENT_SECRET}
EVERY_SETTING = {**SSO, "oidc_client_id": "gateway", "oidc_redirect_url": "https://sso.example.com/oauth2/callback",
                 "oidc_cookie_domain": "example.com", "oidc_cookie_samesite": "Strict", "oidc_refresh_token": False,
                 "oidc_logout_path": "/signout", "oidc_scopes": ["openid", "groups"]}
TARGET = [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute",
           "matchLabels": {"security": "oidc-protected"}, "namespaces": {"from": "All"}}]


@pytest.fixture(scope="module")
def render(tmp_path_factory) -> Renderer:
    return Renderer(initialized_copy(tmp_path_factory.mktemp("oidc-sso") / "repo"))


def listed(files: dict[str, bytes]) -> list[str]:
    return documents(files, CONFIG + "kustomization.yaml")[0]["resources"]


def test_off_renders_neither_file(render):
    files = render({**OIDC, "oidc_client_secret": CLIENT_SECRET})
    assert POLICY not in files and SECRET not in files
    assert "./securitypolicy-oidc.yaml" not in listed(files) and "./securitypolicy-jwt.yaml" in listed(files)


def test_defaults_render_exactly_this_policy(render):
    files = render(SSO)
    assert document(files, POLICY, "SecurityPolicy")["spec"] == {"targetSelectors": TARGET, "oidc": {
        "provider": {"issuer": OIDC["oidc_issuer_url"]},
        "clientID": "envoy-gateway",
        "clientSecret": {"name": "oidc-client-secret"},
        "logoutPath": "/logout",
        "refreshToken": True,
        "scopes": ["openid", "profile", "email"],
        "forwardAccessToken": True,
    }}
    assert document(files, SECRET, "Secret") == {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "oidc-client-secret"}, "type": "Opaque",
        "stringData": {"client-secret": CLIENT_SECRET}}
    assert listed(files)[-2:] == ["./secret-oidc.sops.yaml", "./securitypolicy-oidc.yaml"]
    assert_kustomizations_complete(files)


def test_every_setting_lands_in_the_policy(render):
    oidc = document(render(EVERY_SETTING), POLICY, "SecurityPolicy")["spec"]["oidc"]
    assert oidc == {
        "provider": {"issuer": OIDC["oidc_issuer_url"]},
        "clientID": "gateway",
        "clientSecret": {"name": "oidc-client-secret"},
        "redirectURL": "https://sso.example.com/oauth2/callback",
        "logoutPath": "/signout",
        "cookieDomain": "example.com",
        "cookieConfig": {"sameSite": "Strict"},
        "refreshToken": False,
        "scopes": ["openid", "groups"],
        "forwardAccessToken": True,
    }


def test_keycloak_provides_the_issuer(render):
    files = render({**KEYCLOAK, "keycloak_realm": "home", "oidc_sso_enabled": True,
                    "oidc_client_secret": CLIENT_SECRET})
    issuer = document(files, POLICY, "SecurityPolicy")["spec"]["oidc"]["provider"]["issuer"]
    assert issuer == "https://auth.example.com/realms/home"


@pytest.mark.parametrize("key, value", [
    ("oidc_redirect_url", "https://sso.example.com/oauth2/callback"), ("oidc_cookie_domain", "example.com"),
    ("oidc_cookie_samesite", "Lax"), ("oidc_refresh_token", False), ("oidc_logout_path", "/signout"),
    ("oidc_scopes", ["openid"]),
])
def test_a_sign_in_setting_without_sign_in_is_refused(key, value):
    assert (key, "requires oidc_sso_enabled: true (it configures the gateway's browser sign-in)") in \
        rule_issues({**OIDC, key: value})
    assert rule_issues({**SSO, key: value}) == []


def test_default_values_without_sign_in_are_accepted():
    assert rule_issues({"oidc_logout_path": "/logout", "oidc_refresh_token": True,
                        "oidc_scopes": ["openid", "profile", "email"]}) == []


@pytest.mark.parametrize("key, value, fragment", [
    ("oidc_redirect_url", "https://*.example.com/oauth2/callback", "a wildcard is sent literally"),
    ("oidc_redirect_url", "sso.example.com/callback", "has no scheme"),
    ("oidc_cookie_domain", ".example.com", "should match pattern"),
    ("oidc_cookie_samesite", "lax", "'Lax', 'Strict' or 'None'"),
    ("oidc_logout_path", "logout", "should match pattern"),
    ("oidc_scopes", [], "at least 1 item"),
    ("oidc_scopes", ["open id"], "should match pattern"),
])
def test_malformed_settings_are_refused(key, value, fragment):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as raised:
        rule_issues({**SSO, key: value})
    assert fragment in str(raised.value)


@pytest.mark.slow
def test_every_setting_validates_and_the_secret_is_sealed(tmp_path):
    project = initialized_copy(tmp_path / "repo")
    project.write("cluster.yaml", cluster_yaml(project, EVERY_SETTING))
    result = project.inv("configure", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SecurityPolicy" in result.stdout and ": no errors" in result.stdout
    sealed = (project.root / SECRET).read_text()
    assert "ENC[AES256_GCM" in sealed and CLIENT_SECRET not in sealed
    for path in project.root.rglob("*"):
        if path.is_file() and ".inv" not in path.parts and path.name != "cluster.yaml":
            assert CLIENT_SECRET not in path.read_text(errors="replace"), path
