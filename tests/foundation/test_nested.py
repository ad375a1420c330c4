"""The one walk over every string of parsed YAML, and the two callers that differ in whether keys count."""

from cluster_template.nested import strings_in
from cluster_template.talos.redaction import config_secret_values

DATA = {"a": ["x", {"b": "y", "c": 3}], "d": None, "e": {"f": ["z", True]}}


def test_strings_in_walks_values_depth_first_in_document_order():
    assert list(strings_in(DATA)) == ["x", "y", "z"]


def test_strings_in_with_keys_reads_mapping_keys_before_their_values():
    assert list(strings_in(DATA, keys=True)) == ["a", "x", "b", "y", "c", "d", "e", "f", "z"]


def test_secret_values_are_every_string_below_a_secret_key_only():
    config = {"machine": {"token": "t0k", "ca": {"crt": "public", "key": "private"}},
              "cluster": {"secretboxEncryptionSecret": {"nested": ["s1", {"deep": "s2"}]}, "name": "visible"}}
    assert sorted(config_secret_values([config])) == ["private", "s1", "s2", "t0k"]
