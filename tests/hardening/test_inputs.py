"""Issue 12, items 3, 5, 7 and 9 (inputs): a local input that is not a regular file, is too large,
is not UTF-8, holds a broken age key or mistyped tunnel credentials is refused in one line, and
the run neither hangs nor eats memory."""

from __future__ import annotations

import json
import os

import pytest

from cluster_template.config.load import load_config
from cluster_template.errors import ConfigError
from cluster_template.inputs import read_local_inputs

from .conftest import assert_one_line_error, assert_untouched


def make_not_a_file(path, kind):
    path.unlink(missing_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    elif kind == "loop":
        path.symlink_to(path.name)
    return {"fifo": "named pipe", "device": "a device", "directory": "a directory", "loop": "symlink loop"}[kind]


KINDS = ["fifo", "device", "directory", "loop"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["cluster.yaml", "nodes.yaml"])
def test_config_file_that_is_not_a_regular_file(small, name, kind):
    expected = make_not_a_file(small.root / name, kind)
    with pytest.raises(ConfigError) as error:
        load_config(small.root)
    assert f"{name}: " in str(error.value) and expected in str(error.value)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", ["age.key", "github-push-token.txt", "github-deploy.key", "cloudflare-tunnel.json"])
def test_local_input_that_is_not_a_regular_file(small, name, kind):
    expected = make_not_a_file(small.root / name, kind)
    with pytest.raises(ConfigError) as error:
        read_local_inputs(small.root, deploy_key_required=True)
    assert f"{name}: " in str(error.value) and expected in str(error.value)


def test_fifo_nodes_file_ends_configure_with_one_line(small, sentinel):
    make_not_a_file(small.root / "nodes.yaml", "fifo")
    result = small.inv("configure", "--yes", timeout=120)
    assert_one_line_error(result, "nodes.yaml: is a named pipe (FIFO), not a regular file")
    assert_untouched(sentinel)


@pytest.mark.parametrize("name", ["github-push-token.txt", "github-deploy.key", "age.key"])
def test_invalid_utf8_in_a_key_file(small, name):
    (small.root / name).write_bytes(b"\xff\xfe not text\n")
    with pytest.raises(ConfigError, match=f"{name}:1: is not UTF-8 text"):
        read_local_inputs(small.root, deploy_key_required=True)


def test_oversized_token_is_refused_without_reading_it_all(small):
    (small.root / "github-push-token.txt").write_bytes(b"a" * (1 << 20))
    with pytest.raises(ConfigError, match="larger than"):
        read_local_inputs(small.root, deploy_key_required=False)


@pytest.mark.parametrize("token", ["   ", "two words", 'quo"te', "back\\slash", "tab\there"])
def test_push_token_must_be_one_printable_word(small, token):
    (small.root / "github-push-token.txt").write_text(token + "\n")
    with pytest.raises(ConfigError, match="github-push-token.txt") as error:
        read_local_inputs(small.root, deploy_key_required=False)
    assert token.strip() == "" or token not in str(error.value)


def age_key_lines(small):
    public, private = (small.root / "age.key").read_text().splitlines()[:2]
    return public, private


def test_age_key_cut_short_is_refused_in_configure_and_doctor(small):
    public, private = age_key_lines(small)
    (small.root / "age.key").write_text(f"{public}\n{private[:-6]}\n")
    result = small.inv("configure", "--yes")
    assert_one_line_error(result, "age.key", "not a valid age private key")
    assert private[:-6] not in result.stderr + result.stdout
    doctor = small.inv("doctor")
    assert "!! age.key" in doctor.stdout and "not a valid age private key" in doctor.stdout
    assert private[:-6] not in doctor.stdout


def test_age_key_whose_private_part_does_not_match_the_public_line(small):
    import pyrage

    public, _ = age_key_lines(small)
    other = pyrage.x25519.Identity.generate()
    (small.root / "age.key").write_text(f"{public}\n{other}\n")
    result = small.inv("configure", "--yes")
    assert_one_line_error(result, "age.key", f"belongs to {other.to_public()}")
    assert str(other) not in result.stderr
    doctor = small.inv("doctor")
    assert "!! age.key" in doctor.stdout and str(other) not in doctor.stdout


@pytest.mark.parametrize("credentials, key", [
    ({"AccountTag": "a" * 32, "TunnelID": {"x": 1}, "TunnelSecret": "c2VjcmV0"}, "TunnelID"),
    ({"AccountTag": 5, "TunnelID": "t", "TunnelSecret": "c2VjcmV0"}, "AccountTag"),
    ({"AccountTag": "a", "TunnelID": "t", "TunnelSecret": "   "}, "TunnelSecret"),
    ({"AccountTag": "a", "TunnelID": "t"}, "TunnelSecret"),
    (["AccountTag"], "JSON object"),
])
def test_tunnel_credentials_are_type_checked(small, credentials, key):
    (small.root / "cloudflare-tunnel.json").write_text(json.dumps(credentials))
    with pytest.raises(ConfigError, match=key) as error:
        read_local_inputs(small.root, deploy_key_required=False)
    assert "c2VjcmV0" not in str(error.value)


def test_tunnel_credentials_syntax_error_has_a_line(small):
    (small.root / "cloudflare-tunnel.json").write_text('{\n "AccountTag": "a",\n oops\n}')
    with pytest.raises(ConfigError, match=r"cloudflare-tunnel.json: .*line 3"):
        read_local_inputs(small.root, deploy_key_required=False)
