from pathlib import Path

import pytest

from cluster_template.render import RenderError, render_templates, to_yaml


def make(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "templates"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_makejinja_delimiters_and_whitespace_control(tmp_path):
    root = make(tmp_path, {"a/b.yaml.j2": (
        "#| a comment #|\n"
        "name: #{ name }#\n"
        "#% if flag %#\n"
        "flag: on\n"
        "#% endif %#\n"
        "helm: {{ .Values.keep }}\n"
        "ip: #{ '10.43.0.0/16' | nthhost(10) }#\n")})
    out = render_templates(root, {"name": "x", "flag": True})
    assert out == {"a/b.yaml": b"name: x\nflag: on\nhelm: {{ .Values.keep }}\nip: 10.43.0.10\n"}


def test_whitespace_only_output_is_dropped_and_plain_files_copied(tmp_path):
    root = make(tmp_path, {"off.yaml.j2": "#% if flag %#\nx: 1\n#% endif %#\n", "README.md": "as is\n"})
    assert render_templates(root, {"flag": False}) == {"README.md": b"as is\n"}


def test_undefined_name_fails_with_template_line(tmp_path):
    root = make(tmp_path, {"dir/x.yaml.j2": "a: 1\nb: #{ typo_name }#\n"})
    with pytest.raises(RenderError, match=r"templates/config/dir/x.yaml.j2:2: UndefinedError: 'typo_name' is undefined"):
        render_templates(root, {})


def test_syntax_error_names_file_and_line(tmp_path):
    root = make(tmp_path, {"x.yaml.j2": "a: 1\n#% if %#\n"})
    with pytest.raises(RenderError, match=r"x.yaml.j2:2: syntax error"):
        render_templates(root, {})


def test_output_is_deterministic(tmp_path):
    root = make(tmp_path, {f"f{i}.yaml.j2": f"i: {i}\nl: #{{ items | to_yaml }}#\n" for i in range(20)})
    context = {"items": {"b": 1, "a": [1, 2]}}
    assert render_templates(root, context) == render_templates(root, context)
    assert list(render_templates(root, context)) == sorted(render_templates(root, context))


def test_to_yaml_keeps_order():
    assert to_yaml({"b": 1, "a": [1, 2]}) == "b: 1\na:\n- 1\n- 2"


def compiled_entries(cache: Path) -> dict[str, tuple[int, bytes]]:
    """Each entry's inode (a rewrite replaces the file) and content."""
    return {path.name: (path.stat().st_ino, path.read_bytes()) for path in cache.glob("*.jinja")}


def test_compiled_templates_are_reused_and_a_changed_template_is_recompiled(tmp_path):
    root = make(tmp_path, {"a.yaml.j2": "a: #{ x }#\n", "b.yaml.j2": "b: #{ x }#\n"})
    cache = tmp_path / "cache"
    assert render_templates(root, {"x": 1}, cache_dir=cache) == {"a.yaml": b"a: 1\n", "b.yaml": b"b: 1\n"}
    first = compiled_entries(cache)
    assert len(first) == 2
    assert render_templates(root, {"x": 2}, cache_dir=cache) == {"a.yaml": b"a: 2\n", "b.yaml": b"b: 2\n"}
    assert compiled_entries(cache) == first  # loaded, not written again
    (root / "a.yaml.j2").write_text("a: #{ x + 40 }#\n")
    assert render_templates(root, {"x": 2}, cache_dir=cache) == {"a.yaml": b"a: 42\n", "b.yaml": b"b: 2\n"}
    again = compiled_entries(cache)
    assert again.keys() == first.keys()
    assert len([name for name in again if again[name] != first[name]]) == 1  # a.yaml.j2 alone


@pytest.mark.parametrize("importing", [
    '#% import "_macros/m.j2" as m %#\nv: #{ m.value(x) }#\n',
    '#% from "_macros/m.j2" import value %#\nv: #{ value(x) }#\n',
    'v: #% include "_macros/inc.j2" %#\n',
])
def test_an_edited_macro_file_changes_the_output_of_the_cached_template_that_imports_it(tmp_path, importing):
    root = make(tmp_path, {"_macros/m.j2": "#% macro value(x) %#old-#{ x }##% endmacro %#",
                           "_macros/inc.j2": "old-#{ x }#\n", "app.yaml.j2": importing})
    cache = tmp_path / "cache"
    assert render_templates(root, {"x": 1}, cache_dir=cache)["app.yaml"].startswith(b"v: old-1")
    (root / "_macros/m.j2").write_text("#% macro value(x) %#new-#{ x }##% endmacro %#")
    (root / "_macros/inc.j2").write_text("new-#{ x }#\n")
    assert render_templates(root, {"x": 1}, cache_dir=cache)["app.yaml"].startswith(b"v: new-1")


def test_a_damaged_or_unwritable_cache_only_costs_time(tmp_path):
    root = make(tmp_path, {"a.yaml.j2": "a: #{ x }#\n"})
    cache = tmp_path / "cache"
    render_templates(root, {"x": 1}, cache_dir=cache)
    for entry in cache.glob("*.jinja"):
        entry.write_bytes(entry.read_bytes()[:40])  # truncated mid-code
    assert render_templates(root, {"x": 3}, cache_dir=cache) == {"a.yaml": b"a: 3\n"}
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    assert render_templates(root, {"x": 4}, cache_dir=blocked / "cache") == {"a.yaml": b"a: 4\n"}


def test_errors_still_name_the_template_line_when_the_code_comes_from_the_cache(tmp_path):
    root = make(tmp_path, {"dir/x.yaml.j2": "a: 1\nb: #{ typo_name }#\n"})
    cache = tmp_path / "cache"
    for _ in range(2):
        with pytest.raises(RenderError, match=r"dir/x.yaml.j2:2: UndefinedError"):
            render_templates(root, {}, cache_dir=cache)
    assert list(cache.glob("*.jinja"))


def test_a_read_only_cache_is_used_but_never_written(tmp_path):
    root = make(tmp_path, {"a.yaml.j2": "a: #{ x }#\n"})
    cache = tmp_path / "cache"
    render_templates(root, {"x": 1}, cache_dir=cache, write_cache=False)
    assert not cache.exists()
