"""Issue 12, item 4: what the user writes stays a value. Every free-form string key of the model
(a string with no pattern, format or fixed set of values) is set to values that would break out
of a naive `"#{ value }#"` placement: each is refused by the model, or reaches every rendered file
exactly as written, with no other change to the file's structure."""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from ruamel.yaml import YAML

from cluster_template.config.load import Config
from cluster_template.config.model import ClusterConfig, NodesConfig, secret_keys
from cluster_template.config.schema import schema_files
from cluster_template.derive import derive
from cluster_template.inputs import LocalInputs
from cluster_template.render import render_templates
from tests.config.test_components import CORE, FULL, NODE

from ..conftest import REPO

TEMPLATES = REPO / "templates" / "config"
INJECTIONS = {
    "quote-newline": '"\nnameservers: [6.6.6.6]\nx: "',
    "flux-variable": "${SECRET_DOMAIN}",
    "quote-comment": '" #',
    "escape": "\\x41",
}
LOCAL = LocalInputs("age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs7lk3m0",
                    "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQS",
                    None, "push-token-1234", "tunnel-id", "dHVubmVsLXRva2Vu")


def free_form_keys() -> list[str]:
    schema = json.loads(schema_files()["cluster.schema.json"])

    def free(prop: dict[str, Any]) -> bool:
        if "anyOf" in prop:
            return any(free(option) for option in prop["anyOf"] if option.get("type") != "null")
        if prop.get("type") == "string":
            return not {"pattern", "format", "enum", "const"} & set(prop)
        if prop.get("type") == "array":
            return free(prop.get("items", {}))
        return False

    return sorted(key for key, prop in schema["properties"].items() if free(prop))


SECRETS = set(secret_keys(ClusterConfig))


def value_for(key: str, text: str, index: int) -> Any:
    value = f"{text}-{index:03d}-" + "p" * 32  # long enough for every min_length
    annotation = ClusterConfig.model_fields[key].annotation
    return [value] if "list" in str(annotation) else value


def _strict_despite_schema(key: str) -> bool:
    """A key the schema shows as free text whose validator still wants a form (a CPU quantity)."""
    return bool(refused_keys({**CORE, **FULL, key: value_for(key, "benign", 0)}))


def settings_with(text: str) -> tuple[dict[str, Any], dict[str, str]]:
    settings = {**CORE, **FULL}
    markers = {}
    for index, key in enumerate(KEYS):
        settings[key] = value_for(key, text, index)
        markers[key] = f"{text}-{index:03d}-" + "p" * 32
    return settings, markers


def refused_keys(settings: dict[str, Any]) -> dict[str, str]:
    try:
        ClusterConfig.model_validate(settings)
    except ValidationError as error:
        return {str(item["loc"][0]): item["msg"] for item in error.errors(include_url=False)}
    return {}


def _yaml() -> YAML:
    return YAML(typ="safe", pure=True)  # one per document: nested loads must not share a parser


def parsed_outputs(settings: dict[str, Any]) -> dict[str, Any]:
    config = Config(ClusterConfig.model_validate(settings), NodesConfig.model_validate({"nodes": [NODE]}))
    rendered = render_templates(TEMPLATES, derive(config, LOCAL))
    result = {}
    for path, data in rendered.items():
        if path.endswith((".yaml", ".yml")):
            result[path] = [_nested(document) for document in list(_yaml().load_all(data.decode()))]
        else:
            result[path] = data.decode()
    return result


# A name that is a digest of rendered content (the Keycloak realm Job) changes with any value.
DIGEST_NAMES = re.compile(r"\bkeycloak-realm-[0-9a-f]{10}\b")


def _nested(node: Any) -> Any:
    """Documents embedded as strings (talconfig's inline patches, JSON files in ConfigMaps) parsed too."""
    if isinstance(node, dict):
        return {key: _nested(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_nested(item) for item in node]
    if isinstance(node, str) and DIGEST_NAMES.search(node):
        return DIGEST_NAMES.sub("keycloak-realm-<digest>", node)
    if isinstance(node, str) and node.strip().startswith("{") and node.strip().endswith("}"):
        try:
            return {"<json>": _nested(json.loads(node))}
        except ValueError:
            pass
    if isinstance(node, str) and "\n" in node and re.search(r"^\w+:", node, re.MULTILINE):
        try:
            return {"<embedded>": _nested(_yaml().load(node))}
        except Exception:
            return node
    return node


def replaced(node: Any, mapping: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {replaced(key, mapping): replaced(value, mapping) for key, value in node.items()}
    if isinstance(node, list):
        return [replaced(item, mapping) for item in node]
    if isinstance(node, str):
        for old, new in mapping.items():
            node = node.replace(old, new)
    return node


def url_decoded(node: Any) -> Any:
    """URLs with their percent-escapes undone: a value inside a URL (a database password) is held
    exactly when it is percent-encoded there."""
    if isinstance(node, dict):
        return {key: url_decoded(value) for key, value in node.items()}
    if isinstance(node, list):
        return [url_decoded(item) for item in node]
    if isinstance(node, str) and "://" in node:
        return urllib.parse.unquote(node)
    return node


KEYS = [key for key in free_form_keys() if not _strict_despite_schema(key)]


@pytest.fixture(scope="module")
def benign():
    settings, markers = settings_with("benign")
    assert refused_keys(settings) == {}
    return parsed_outputs(settings), markers


def test_there_are_free_form_keys_to_try():
    assert len(KEYS) > 50 and "repository_branch" in KEYS and "storage_class" in KEYS


@pytest.mark.parametrize("name", INJECTIONS)
def test_every_free_form_key_refuses_or_round_trips(benign, name):
    benign_outputs, benign_markers = benign
    text = INJECTIONS[name]
    settings, markers = settings_with(text)
    refused = refused_keys(settings)
    for key, message in refused.items():
        if key in SECRETS:
            assert text not in message and markers[key] not in message, key
        settings[key] = value_for(key, "benign", KEYS.index(key))
    assert refused_keys(settings) == {}
    injected = parsed_outputs(settings)
    mapping = {benign_markers[key]: markers[key] for key in KEYS if key not in refused}
    expected = {path: replaced(content, mapping) if not isinstance(content, str) else content
                for path, content in benign_outputs.items()}
    yaml_paths = [path for path, content in injected.items() if not isinstance(content, str)]
    assert sorted(injected) == sorted(benign_outputs)
    for path in yaml_paths:
        assert url_decoded(injected[path]) == url_decoded(expected[path]), f"{name}: {path} does not hold the values exactly"
    accepted = [key for key in KEYS if key not in refused]
    rendered = [key for key in accepted
                if any(markers[key] in json.dumps(injected[path]) or markers[key] in str(injected[path])
                       for path in yaml_paths)]
    if name in ("quote-newline", "flux-variable"):
        assert accepted == [], f"{name} must be refused everywhere: {accepted}"
    else:
        assert len(rendered) >= 10, rendered  # the check above really looked at rendered values


@pytest.mark.parametrize("name", INJECTIONS)
@pytest.mark.parametrize("field", ["disk", "kernel_modules", "name"])
def test_node_values_with_injections_are_refused(name, field):
    value = INJECTIONS[name]
    node = {**NODE, field: [value] if field == "kernel_modules" else value}
    with pytest.raises(ValidationError):
        NodesConfig.model_validate({"nodes": [node]})


@pytest.mark.parametrize("value", ["/dev/sda", "/dev/disk/by-id/nvme-Samsung_SSD_980_1TB_S649NF0R", "S649NF0R123",
                                   "/dev/nvme0n1"])
def test_real_install_disks_are_accepted(value):
    NodesConfig.model_validate({"nodes": [{**NODE, "disk": value}]})


@pytest.mark.parametrize("branch, ok", [("main", True), ("release/1.2", True), ("feature-x_y", True),
                                        ("${SECRET_DOMAIN}", False), ("a..b", False), ("-x", False),
                                        ("x y", False), ('x"', False), ("x.lock", False), ("a/", False)])
def test_repository_branch_is_a_git_branch(branch, ok):
    settings = {**CORE, "repository_branch": branch}
    if ok:
        ClusterConfig.model_validate(settings)
    else:
        with pytest.raises(ValidationError):
            ClusterConfig.model_validate(settings)
