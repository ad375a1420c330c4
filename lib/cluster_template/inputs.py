"""Local input files that are not configuration keys: the age key, the Git deploy key, the
webhook token and the Cloudflare tunnel credentials. `inv init` creates the first three;
`cloudflared tunnel create` writes the last."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, ConfigIssue

AGE_KEY_FILE = "age.key"
DEPLOY_KEY_FILE = "github-deploy.key"
PUSH_TOKEN_FILE = "github-push-token.txt"
TUNNEL_FILE = "cloudflare-tunnel.json"

_AGE_PUBLIC = re.compile(r"^# public key: (age1[0-9a-z]+)\s*$", re.MULTILINE)
_AGE_PRIVATE = re.compile(r"^(AGE-SECRET-KEY-1[0-9A-Z]+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class LocalInputs:
    age_public_key: str
    age_private_key: str
    github_deploy_key: str | None
    github_push_token: str
    cloudflare_tunnel_id: str
    cloudflare_tunnel_token: str

    def as_context(self) -> dict[str, Any]:
        return {
            "age_public_key": self.age_public_key,
            "age_private_key": self.age_private_key,
            "github_deploy_key": self.github_deploy_key,
            "github_push_token": self.github_push_token,
            "cloudflare_tunnel_id": self.cloudflare_tunnel_id,
            "cloudflare_tunnel_token": self.cloudflare_tunnel_token,
        }

    def secrets(self) -> tuple[str, ...]:
        values = (self.age_private_key, self.github_deploy_key, self.github_push_token, self.cloudflare_tunnel_token)
        return tuple(value for value in values if value)


def read_age_key(path: Path) -> tuple[str, str]:
    """(public, private) from an age key file as age-keygen or `inv init` writes it."""
    text = path.read_text()
    public, private = _AGE_PUBLIC.search(text), _AGE_PRIVATE.search(text)
    if not public or not private:
        raise ValueError("expected a '# public key: age1…' line and an AGE-SECRET-KEY-1… line")
    return public.group(1), private.group(1)


def tunnel_token(credentials: dict[str, Any]) -> str:
    """cloudflared's TUNNEL_TOKEN: base64 of the compact JSON {a: account, t: tunnel, s: secret}."""
    compact = json.dumps(
        {"a": credentials["AccountTag"], "t": credentials["TunnelID"], "s": credentials["TunnelSecret"]},
        separators=(",", ":"),
    )
    return base64.b64encode(compact.encode()).decode()


def read_local_inputs(root: Path, *, deploy_key_required: bool) -> LocalInputs:
    """Read every local input under `root`; raise ConfigError naming each missing or bad file."""
    issues: list[ConfigIssue] = []

    age_public = age_private = ""
    try:
        age_public, age_private = read_age_key(root / AGE_KEY_FILE)
    except FileNotFoundError:
        issues.append(ConfigIssue(AGE_KEY_FILE, "", "file not found; run `inv init` to create it"))
    except (ValueError, UnicodeDecodeError) as exc:
        issues.append(ConfigIssue(AGE_KEY_FILE, "", f"not an age key file: {exc}"))

    deploy_key = None
    deploy_path = root / DEPLOY_KEY_FILE
    if deploy_path.is_file():
        deploy_key = deploy_path.read_text().strip() or None
    if deploy_key_required and not deploy_key:
        issues.append(ConfigIssue(DEPLOY_KEY_FILE, "", "required because repository_visibility is private; run `inv init`"))

    push_token = ""
    try:
        push_token = (root / PUSH_TOKEN_FILE).read_text().strip()
        if not push_token:
            issues.append(ConfigIssue(PUSH_TOKEN_FILE, "", "is empty; delete it and run `inv init`"))
    except FileNotFoundError:
        issues.append(ConfigIssue(PUSH_TOKEN_FILE, "", "file not found; run `inv init` to create it"))

    tunnel_id = token = ""
    try:
        credentials = json.loads((root / TUNNEL_FILE).read_text())
        tunnel_id = str(credentials["TunnelID"])
        token = tunnel_token(credentials)
    except FileNotFoundError:
        issues.append(ConfigIssue(
            TUNNEL_FILE, "",
            "file not found; create the tunnel with `cloudflared tunnel create --credentials-file "
            "cloudflare-tunnel.json kubernetes`"))
    except (ValueError, KeyError, TypeError) as exc:
        issues.append(ConfigIssue(TUNNEL_FILE, "", f"expected JSON with AccountTag, TunnelID and TunnelSecret ({exc!s})"))

    if issues:
        raise ConfigError(issues)
    return LocalInputs(age_public, age_private, deploy_key, push_token, tunnel_id, token)
