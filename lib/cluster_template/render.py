"""Render `templates/config/**` in memory with Jinja2, configured like makejinja.

The result maps each output path (relative to the repository root) to its bytes. Rendering is a
pure function of the templates and the context: files are visited in sorted order, nothing reads
the clock, and a template that renders to whitespace produces no entry.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ClusterTemplateError

TEMPLATE_SUFFIX = ".j2"


class RenderError(ClusterTemplateError):
    """A template failed to render; the message names the template file and line."""


def nthhost(cidr: str, index: int) -> str:
    from .derive.core import nth_host

    return nth_host(cidr, index)


def b64encode(value: str) -> str:
    return base64.b64encode(str(value).encode()).decode()


_YAML_UNSAFE_PRINTABLE = {"\u2028", "\u2029", "\u0085", "\ufeff"}  # read as line breaks or dropped


def yaml_quote(value: Any) -> str:
    """`value` as a YAML double-quoted scalar that every YAML reader (ruamel, go-yaml) reads back
    as exactly `str(value)`: quotes and backslashes are escaped, anything not printable becomes
    an escape sequence, so a value can never close its quotes or start a new line or key."""
    escaped = []
    for char in str(value):
        if char in '"\\':
            escaped.append("\\" + char)
        elif char.isprintable() and char not in _YAML_UNSAFE_PRINTABLE:
            escaped.append(char)
        else:
            code = ord(char)
            escaped.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return '"' + "".join(escaped) + '"'


def to_yaml(value: Any) -> str:
    """A value as YAML (block style, keys in the given order), without a trailing newline."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False
    stream = io.StringIO()
    yaml.dump(value, stream)
    text = stream.getvalue()
    return text[: -len("...\n")].rstrip("\n") if text.endswith("...\n") else text.rstrip("\n")


def make_environment(template_root: Path):
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_root)),
        block_start_string="#%",
        block_end_string="%#",
        variable_start_string="#{",
        variable_end_string="}#",
        comment_start_string="#|",
        comment_end_string="#|",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    from .dashboards import grafana_dashboard

    environment.filters.update(nthhost=nthhost, b64encode=b64encode, to_yaml=to_yaml, yaml_quote=yaml_quote,
                               grafana_dashboard=grafana_dashboard)
    return environment


def template_files(template_root: Path) -> list[Path]:
    """Every file under `template_root`, sorted, as paths relative to it."""
    return sorted(
        path.relative_to(template_root)
        for path in template_root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


def output_path(template: Path) -> str:
    name = template.as_posix()
    return name[: -len(TEMPLATE_SUFFIX)] if name.endswith(TEMPLATE_SUFFIX) else name


def render_templates(template_root: Path, context: Mapping[str, Any], environment: Any = None) -> dict[str, bytes]:
    """Render every template; return {output path: content} for the non-empty results. An
    `environment` from `make_environment(template_root)` keeps its compiled templates between calls
    (for callers that render many contexts)."""
    import jinja2

    environment = environment or make_environment(template_root)
    outputs: dict[str, bytes] = {}
    for template in template_files(template_root):
        target = output_path(template)
        if not template.name.endswith(TEMPLATE_SUFFIX):
            outputs[target] = (template_root / template).read_bytes()
            continue
        try:
            text = environment.get_template(template.as_posix()).render(context)
        except jinja2.TemplateSyntaxError as exc:
            raise RenderError(f"templates/config/{template}:{exc.lineno}: syntax error: {exc.message}") from None
        except (jinja2.TemplateError, TypeError, ValueError, KeyError, IndexError, AttributeError,
                ArithmeticError) as exc:  # undefined names, failing filters, type errors inside templates
            line = _template_line(exc, template_root / template)
            where = f"templates/config/{template}" + (f":{line}" if line else "")
            raise RenderError(f"{where}: {type(exc).__name__}: {exc}") from None
        if text.strip():
            outputs[target] = text.encode()
    return outputs


def _template_line(exc: BaseException, template_path: Path) -> int | None:
    """Line in the template where `exc` was raised (Jinja maps template frames to file lines)."""
    traceback = exc.__traceback__
    line = None
    wanted = str(template_path)
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == wanted:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line
