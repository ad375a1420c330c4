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
