"""Render `templates/config/**` in memory with Jinja2, configured like makejinja.

The result maps each output path (relative to the repository root) to its bytes. Rendering is a
pure function of the templates and the context: files are visited in sorted order, nothing reads
the clock, and a template that renders to whitespace produces no entry.

Compiling the templates is most of a render, so the compiled code can be kept between runs in a
directory (`cache_dir`, Jinja's bytecode cache). An entry is used only for the same template path,
the same source text (Jinja compares a checksum of it), and the same compiler: Jinja and Python
versions, this environment's syntax options and filter names. Imports and includes (`_macros/*.j2`)
are not compiled into the importing template: they are loaded by name when it renders, each
checked against its own source, so editing a macro file recompiles that file alone.
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
    # ruamel initialises this flag to None ("use the representer's default") with no annotation, so
    # mypy infers the type None; main.py passes any non-None value on to the representer.
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    stream = io.StringIO()
    yaml.dump(value, stream)
    text = stream.getvalue()
    return text[: -len("...\n")].rstrip("\n") if text.endswith("...\n") else text.rstrip("\n")


def make_environment(template_root: Path, *, cache_dir: Path | None = None, write_cache: bool = True):
    """The makejinja-compatible environment; with `cache_dir`, compiled templates are read from and
    (`write_cache`) stored there."""
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
    if cache_dir is not None:
        environment.bytecode_cache = _compiled_cache(environment, Path(cache_dir), write_cache)
    return environment


CACHE_FORMAT = "jinja-bytecode-1"
_COMPILER_OPTIONS = ("block_start_string", "block_end_string", "variable_start_string", "variable_end_string",
                     "comment_start_string", "comment_end_string", "line_statement_prefix", "line_comment_prefix",
                     "trim_blocks", "lstrip_blocks", "newline_sequence", "keep_trailing_newline", "optimized",
                     "autoescape")


def _compiled_cache(environment, directory: Path, writable: bool):
    """Jinja's file bytecode cache with keys that also name the compiler (see the module docstring);
    a cache that cannot be read or written only costs time."""
    import hashlib
    import sys

    import jinja2
    from jinja2.bccache import FileSystemBytecodeCache

    compiler = hashlib.sha256()
    options = (repr(getattr(environment, option)) for option in _COMPILER_OPTIONS)
    for part in (CACHE_FORMAT, jinja2.__version__, sys.version, *options,
                 *sorted(environment.filters), *sorted(environment.tests), *sorted(environment.extensions)):
        compiler.update(str(part).encode() + b"\0")
    compiler_digest = compiler.hexdigest()

    class CompiledTemplates(FileSystemBytecodeCache):
        def get_cache_key(self, name: str, filename: str | None = None) -> str:
            return hashlib.sha256(f"{compiler_digest}\0{name}\0{filename}".encode()).hexdigest()

        def load_bytecode(self, bucket) -> None:
            try:
                super().load_bytecode(bucket)
            except Exception:  # a damaged entry (unpickling and unmarshalling raise many kinds): compile again
                bucket.reset()

        def dump_bytecode(self, bucket) -> None:
            if not writable:
                return
            try:
                directory.mkdir(parents=True, exist_ok=True)
                super().dump_bytecode(bucket)
            except OSError:
                pass

    return CompiledTemplates(str(directory), "%s.jinja")


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


def render_templates(template_root: Path, context: Mapping[str, Any], environment: Any = None, *,
                     cache_dir: Path | None = None, write_cache: bool = True) -> dict[str, bytes]:
    """Render every template; return {output path: content} for the non-empty results. An
    `environment` from `make_environment(template_root)` keeps its compiled templates between calls
    (for callers that render many contexts); `cache_dir` keeps them between runs (see the module
    docstring)."""
    import jinja2

    environment = environment or make_environment(template_root, cache_dir=cache_dir, write_cache=write_cache)
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
