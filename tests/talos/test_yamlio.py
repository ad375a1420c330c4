"""YAML reading and writing: Talos layout, safe quoting, and lossless round trips."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cluster_template.talos import TalosYamlError
from cluster_template.talos.yamlio import dump_document, dump_documents, load_document, load_documents


@pytest.mark.parametrize("name", ["controlplane", "worker"])
def test_upstream_configs_are_rewritten_byte_for_byte(name, example_config):
    """talosctl's own files come out unchanged: same indentation, quoting and list layout."""
    text = example_config[name]
    assert dump_documents(load_documents(text)) == text


def test_values_that_other_yaml_readers_would_retype_are_quoted():
    risky = ["off", "on", "yes", "No", "y", "~", "null", "", "1.35", "10", "0o644", "0x1F", "1e3", "12:30",
             "2024-01-01", "-abc", "a: b", "x #y", "trailing ", "*ref", "=", "<<", "true"]
    text = dump_document({"values": risky})
    for value in risky:
        assert f"- {value}\n" not in text or value == ""
    assert load_document(text) == {"values": risky}


def test_values_that_pyyaml_reads_as_yaml_1_1_stay_strings():
    yaml = pytest.importorskip("yaml")  # PyYAML resolves YAML 1.1 types: the strictest reader around
    data = {"auto": "off", "tag": "1.35", "mode": "0644", "when": "2024-01-01", "sexagesimal": "1:20"}
    assert yaml.safe_load(dump_document(data)) == data


def test_plain_strings_stay_plain():
    data = {"endpoint": "https://10.0.0.10:6443", "cidr": "10.244.0.0/16", "match": 'mac(link.permanent_addr) == "aa:bb"'}
    assert dump_document(data) == (
        'endpoint: https://10.0.0.10:6443\ncidr: 10.244.0.0/16\nmatch: mac(link.permanent_addr) == "aa:bb"\n'
    )


def test_layout_uses_four_spaces_and_go_yaml_sequence_items():
    data = {"a": {"list": [{"name": "x", "nested": {"k": "v"}, "items": ["1a"]}], "empty": {}, "none": []}}
    assert dump_document(data) == (
        "a:\n"
        "    list:\n"
        "        - name: x\n"
        "          nested:\n"
        "            k: v\n"
        "          items:\n"
        "            - 1a\n"
        "    empty: {}\n"
        "    none: []\n"
    )


def test_multiline_strings_use_literal_style():
    data = {"script": "line one\nline two\n", "no_newline": "a\nb", "kept": "x\n\n"}
    text = dump_document(data)
    assert "script: |\n    line one\n    line two\n" in text
    assert "no_newline: |-\n" in text
    assert load_document(text) == data


def test_reading_follows_go_yaml():
    data = load_document("auto: off\nmode: 0644\nnewmode: 0o755\nday: 2024-01-01\nflag: true\nempty:\n")
    assert data == {"auto": "off", "mode": 0o644, "newmode": 0o755, "day": "2024-01-01", "flag": True, "empty": None}


def test_duplicate_keys_are_an_error():
    with pytest.raises(TalosYamlError, match="duplicate key"):
        load_document("a: 1\na: 2\n", source="patch.yaml")


def test_empty_documents_are_skipped():
    assert load_documents("a: 1\n---\n---\nb: 2\n") == [{"a": 1}, {"b": 2}]


def test_load_document_refuses_several_documents():
    with pytest.raises(TalosYamlError, match="expected one YAML document"):
        load_document("a: 1\n---\nb: 2\n")


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
_data = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=12), children, max_size=4),
    ),
    max_leaves=20,
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=12), _data, max_size=5))
@example({"+_": None})  # ruamel's integer pattern matched a sign and underscores alone
def test_any_data_round_trips(data):
    assert load_document(dump_document(data)) == (data or {})
