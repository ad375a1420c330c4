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
from .readfile import UnreadableInput, read_text

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
    # The raw TunnelSecret of cloudflare-tunnel.json: not a template input (the token carries it),
    # only a value that must never be rendered or printed in clear.
    cloudflare_tunnel_secret: str = ""

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
        values = (self.age_private_key, self.github_deploy_key, self.github_push_token, self.cloudflare_tunnel_token,
                  self.cloudflare_tunnel_secret)
        return tuple(value for value in values if value)


LOCAL_INPUT_LIMIT = 64 * 1024
_TUNNEL_KEYS = ("AccountTag", "TunnelID", "TunnelSecret")
# A token: printable ASCII without whitespace, quotes or backslashes (the form every generator uses).
_TOKEN_FORM = re.compile(r"^[\x21\x23-\x26\x28-\x5b\x5d-\x7e]+$")


def read_age_key(path: Path) -> tuple[str, str]:
    """(public, private) from an age key file as age-keygen or `inv init` writes it; ValueError
    when either line is missing or the private key does not derive the public one (secrets would
    be encrypted for a key the cluster cannot decrypt with)."""
    text = read_text(path, limit=LOCAL_INPUT_LIMIT, label=path.name)
    public, private = _AGE_PUBLIC.search(text), _AGE_PRIVATE.search(text)
    if not public or not private:
        raise ValueError("expected a '# public key: age1…' line and an AGE-SECRET-KEY-1… line")
    import pyrage

    try:
        derived = str(pyrage.x25519.Identity.from_str(private.group(1)).to_public())
    except pyrage.IdentityError:  # its text is never shown: it quotes the key
        raise ValueError("the AGE-SECRET-KEY-1… line is not a valid age private key (cut short?)") from None
    if derived != public.group(1):
        raise ValueError(f"the private key belongs to {derived}, not to the '# public key' line {public.group(1)}; "
                         f"restore the matching pair (secrets are encrypted for the public line)")
    return public.group(1), private.group(1)


def tunnel_token(credentials: dict[str, Any]) -> str:
    """cloudflared's TUNNEL_TOKEN: base64 of the compact JSON {a: account, t: tunnel, s: secret}."""
    compact = json.dumps(
        {"a": credentials["AccountTag"], "t": credentials["TunnelID"], "s": credentials["TunnelSecret"]},
        separators=(",", ":"),
    )
    return base64.b64encode(compact.encode()).decode()


def read_tunnel_credentials(path: Path) -> dict[str, str]:
    """The three fields of a cloudflared credentials file; ValueError naming a missing or bad one
    (never its value: TunnelSecret is a credential)."""
    try:
        credentials = json.loads(read_text(path, limit=LOCAL_INPUT_LIMIT, label=path.name))
    except json.JSONDecodeError as exc:
        raise ValueError(f"line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(credentials, dict):
        raise ValueError("expected a JSON object")
    for key in _TUNNEL_KEYS:
        value = credentials.get(key)
        if not isinstance(value, str) or not _TOKEN_FORM.match(value):
            raise ValueError(f"{key} must be a non-empty string without spaces, quotes or control characters"
                             + ("" if key in credentials else " (missing)"))
    return {key: credentials[key] for key in _TUNNEL_KEYS}


def _read_secret_file(path: Path, issues: list[ConfigIssue]) -> str | None:
    """The stripped text of a local credential file, None when missing; an issue when unreadable."""
    try:
        return read_text(path, limit=LOCAL_INPUT_LIMIT, label=path.name).strip()
    except FileNotFoundError:
        return None
    except UnreadableInput as exc:
        issues.append(ConfigIssue(path.name, "", exc.reason, exc.line))
        return ""


def read_local_inputs(root: Path, *, deploy_key_required: bool) -> LocalInputs:
    """Read every local input under `root`; raise ConfigError naming each missing or bad file."""
    issues: list[ConfigIssue] = []

    age_public = age_private = ""
    try:
        age_public, age_private = read_age_key(root / AGE_KEY_FILE)
    except FileNotFoundError:
        issues.append(ConfigIssue(AGE_KEY_FILE, "", "file not found; run `inv init` to create it"))
    except UnreadableInput as exc:
        issues.append(ConfigIssue(AGE_KEY_FILE, "", exc.reason, exc.line))
    except ValueError as exc:
        issues.append(ConfigIssue(AGE_KEY_FILE, "", f"not a usable age key file: {exc}"))

    deploy_key = _read_secret_file(root / DEPLOY_KEY_FILE, issues) or None
    if deploy_key_required and not deploy_key and not any(issue.file == DEPLOY_KEY_FILE for issue in issues):
        issues.append(ConfigIssue(DEPLOY_KEY_FILE, "", "required because repository_visibility is private; run `inv init`"))

    push_token = _read_secret_file(root / PUSH_TOKEN_FILE, issues)
    if push_token is None:
        issues.append(ConfigIssue(PUSH_TOKEN_FILE, "", "file not found; run `inv init` to create it"))
        push_token = ""
    elif not any(issue.file == PUSH_TOKEN_FILE for issue in issues):
        if not push_token:
            issues.append(ConfigIssue(PUSH_TOKEN_FILE, "", "is empty; delete it and run `inv init`"))
        elif not _TOKEN_FORM.match(push_token):
            issues.append(ConfigIssue(PUSH_TOKEN_FILE, "", "must be one word of printable ASCII (no spaces, quotes "
                                                           "or backslashes); delete it and run `inv init` for a new one"))

    tunnel_id = token = tunnel_secret = ""
    try:
        credentials = read_tunnel_credentials(root / TUNNEL_FILE)
        tunnel_id, tunnel_secret = credentials["TunnelID"], credentials["TunnelSecret"]
        token = tunnel_token(credentials)
    except FileNotFoundError:
        issues.append(ConfigIssue(
            TUNNEL_FILE, "",
            "file not found; create the tunnel with `cloudflared tunnel create --credentials-file "
            "cloudflare-tunnel.json kubernetes`"))
    except UnreadableInput as exc:
        issues.append(ConfigIssue(TUNNEL_FILE, "", exc.reason, exc.line))
    except ValueError as exc:
        issues.append(ConfigIssue(TUNNEL_FILE, "", f"expected JSON with string AccountTag, TunnelID and TunnelSecret: {exc}"))

    if issues:
        raise ConfigError(issues)
    return LocalInputs(age_public, age_private, deploy_key, push_token, tunnel_id, token, tunnel_secret)
