"""Command-line parsing and output helpers that behave like the Go libraries behind the real CLIs.

* `Command` / `parse` follow cobra + pflag: long flags (`--x v`, `--x=v`), short flags (`-x v`,
  `-xv`, `-x=v`, grouped booleans `-ab`), string slices split on commas and repeatable, `--`
  ending flags, flags accepted before or after the subcommand (cobra locates the command first,
  then parses every flag with that command's flag set), and the same error texts
  ("unknown flag: --x", `unknown command "x" for "talosctl"`, "accepts 0 arg(s), received 1").
* `go_flags` follows Go's standard `flag` package as OpenTofu uses it (`-flag`, `--flag`,
  `-flag=value`, parsing stops at the first positional argument).
* `tabwriter` / `tablewriter` reproduce the two table printers the tools use, `multierror` the
  hashicorp/go-multierror text, `parse_duration` / `format_duration` Go's time.Duration.
"""

from __future__ import annotations

import math
import re
from typing import Callable

__all__ = [
    "CliError", "Command", "Flag", "Parsed", "format_duration", "go_flags", "humanize_bytes",
    "multierror", "parse", "parse_duration", "tablewriter", "tabwriter",
]


class CliError(Exception):
    """A usage error; `command` is the command whose usage should be shown."""

    def __init__(self, message: str, command: "Command | None" = None):
        super().__init__(message)
        self.command = command


class Flag:
    """One flag; kind is bool | string | strings (comma-split, repeatable) | array | duration | int.
    (Plain classes rather than dataclasses here: importing dataclasses costs the fakes start-up time.)"""

    def __init__(self, name: str, kind: str = "string", short: str = "", default: object = None, help: str = "",
                 hidden: bool = False):
        self.name = name
        self.kind = kind
        self.short = short
        self.default = default
        self.help = help
        self.hidden = hidden

    def initial(self) -> object:
        if self.default is not None:
            return list(self.default) if isinstance(self.default, list) else self.default
        return {"bool": False, "strings": [], "array": [], "int": 0, "duration": 0.0}.get(self.kind, "")


class Command:
    """A cobra command: `args` is (min, max) positional arguments, None for any."""

    def __init__(self, name: str, use: str = "", aliases: tuple[str, ...] = (), flags: list[Flag] | None = None,
                 persistent: list[Flag] | None = None, args: tuple[int, int | None] | None = None,
                 run: Callable | None = None, short_help: str = ""):
        self.name = name
        self.use = use
        self.aliases = aliases
        self.flags = flags or []
        self.persistent = persistent or []
        self.subcommands: list[Command] = []
        self.args = args
        self.run = run
        self.parent: Command | None = None
        self.short_help = short_help

    def add(self, *commands: "Command") -> "Command":
        for command in commands:
            command.parent = self
            self.subcommands.append(command)
        return self

    def path(self) -> str:
        return f"{self.parent.path()} {self.name}" if self.parent else self.name

    def find_sub(self, token: str) -> "Command | None":
        for command in self.subcommands:
            if token == command.name or token in command.aliases:
                return command
        return None

    def inherited(self) -> list[Flag]:
        flags: list[Flag] = []
        node = self.parent
        while node is not None:
            flags.extend(node.persistent)
            node = node.parent
        return flags

    def all_flags(self) -> list[Flag]:
        return [*self.flags, *self.persistent, *self.inherited()]

    def lookup(self, name: str) -> Flag | None:
        for flag in self.all_flags():
            if flag.name == name:
                return flag
        return None

    def lookup_short(self, short: str) -> Flag | None:
        for flag in self.all_flags():
            if flag.short == short:
                return flag
        return None

    def usage(self) -> str:
        """A cobra-style usage block."""
        use = self.use or self.name
        full = f"{self.parent.path()} {use}" if self.parent else use
        lines = ["Usage:"]
        if self.run is not None:
            lines.append(f"  {full} [flags]")
        if self.subcommands:
            lines.append(f"  {self.path()} [command]")
            lines += ["", "Available Commands:"]
            width = max(len(c.name) for c in self.subcommands)
            lines += [f"  {c.name.ljust(width)}  {c.short_help}".rstrip() for c in self.subcommands]
        local = [f for f in [*self.flags, *self.persistent] if not f.hidden]
        if local:
            lines += ["", "Flags:", *_flag_lines(local)]
        inherited = [f for f in self.inherited() if not f.hidden]
        if inherited:
            lines += ["", "Global Flags:", *_flag_lines(inherited)]
        if self.subcommands:
            lines += ["", f'Use "{self.path()} [command] --help" for more information about a command.']
        return "\n".join(lines) + "\n"


def _flag_lines(flags: list[Flag]) -> list[str]:
    rendered = []
    for flag in flags:
        head = f"-{flag.short}, --{flag.name}" if flag.short else f"    --{flag.name}"
        kind = {"bool": "", "strings": " strings", "array": " stringArray"}.get(flag.kind, f" {flag.kind}")
        rendered.append((f"  {head}{kind}", flag.help))
    width = max(len(left) for left, _ in rendered)
    return [f"{left.ljust(width)}   {text}".rstrip() for left, text in rendered]


class Parsed:
    """The result of `parse`: the command, every flag's value, positional args, flags given."""

    def __init__(self, command: Command, values: dict[str, object], args: list[str], changed: set[str]):
        self.command = command
        self.values = values
        self.args = args
        self.changed = changed

    def __getitem__(self, name: str) -> object:
        return self.values[name]


def _takes_value(token: str, command: Command) -> bool:
    """cobra's stripFlags rule: a flag without `=` consumes the next token unless it is boolean."""
    if token.startswith("--"):
        flag = command.lookup(token[2:])
        return not (flag and flag.kind == "bool")
    if len(token) == 2:
        flag = command.lookup_short(token[1:])
        return not (flag and flag.kind == "bool")
    return False


def _find(root: Command, argv: list[str]) -> tuple[Command, list[str]]:
    """Locate the command the way cobra's Find does (flags are skipped, not parsed yet)."""
    command = root
    rest = list(argv)
    while True:
        index = 0
        found = None
        while index < len(rest):
            token = rest[index]
            if token == "--":
                break
            if token.startswith("-") and token != "-":
                if "=" not in token and _takes_value(token, command):
                    index += 1
                index += 1
                continue
            found = (index, token)
            break
        if found is None or not command.subcommands:
            return command, rest
        sub = command.find_sub(found[1])
        if sub is None:
            # The real cobra only rejects unknown subcommands at the root; nested ones print help and
            # exit 0. The fakes reject both so a misspelt subcommand cannot pass a test silently.
            if command.run is None or command.parent is None:
                raise CliError(f'unknown command "{found[1]}" for "{command.path()}"', command)
            return command, rest
        command = sub
        rest = rest[:found[0]] + rest[found[0] + 1:]


def _set(values: dict, changed: set, flag: Flag, raw: str, command: Command) -> None:
    if flag.kind == "bool":
        lowered = raw.lower()
        if lowered in ("1", "t", "true"):
            values[flag.name] = True
        elif lowered in ("0", "f", "false"):
            values[flag.name] = False
        else:
            raise CliError(f'invalid argument "{raw}" for "--{flag.name}" flag: strconv.ParseBool: parsing "{raw}": '
                           "invalid syntax", command)
    elif flag.kind == "strings":
        current = values[flag.name] if flag.name in changed else []
        values[flag.name] = current + ([part for part in raw.split(",")] if raw else [])
    elif flag.kind == "array":
        current = values[flag.name] if flag.name in changed else []
        values[flag.name] = current + [raw]
    elif flag.kind == "int":
        try:
            values[flag.name] = int(raw)
        except ValueError:
            raise CliError(f'invalid argument "{raw}" for "--{flag.name}" flag: strconv.ParseInt: parsing "{raw}": '
                           "invalid syntax", command) from None
    elif flag.kind == "duration":
        try:
            values[flag.name] = parse_duration(raw)
        except ValueError:
            raise CliError(f'invalid argument "{raw}" for "--{flag.name}" flag: time: invalid duration "{raw}"',
                           command) from None
    else:
        values[flag.name] = raw
    changed.add(flag.name)


def parse(root: Command, argv: list[str]) -> Parsed:
    """Find the command, then parse every flag against its flag set; raise CliError on misuse."""
    command, rest = _find(root, argv)
    flags = command.all_flags()
    values = {flag.name: flag.initial() for flag in flags}
    changed: set[str] = set()
    positional: list[str] = []
    index = 0
    while index < len(rest):
        token = rest[index]
        index += 1
        if token == "--":
            positional.extend(rest[index:])
            break
        if token.startswith("--"):
            name, has_value, raw = token[2:].partition("=")
            flag = command.lookup(name)
            if flag is None:
                if name in ("help", "h"):
                    raise CliError("help requested", command)
                raise CliError(f"unknown flag: --{name}", command)
            if has_value:
                _set(values, changed, flag, raw, command)
            elif flag.kind == "bool":
                _set(values, changed, flag, "true", command)
            elif index < len(rest):
                _set(values, changed, flag, rest[index], command)
                index += 1
            else:
                raise CliError(f"flag needs an argument: --{name}", command)
        elif token.startswith("-") and token != "-":
            shorts = token[1:]
            position = 0
            while position < len(shorts):
                letter = shorts[position]
                flag = command.lookup_short(letter)
                if flag is None:
                    if letter == "h":
                        raise CliError("help requested", command)
                    raise CliError(f"unknown shorthand flag: '{letter}' in -{shorts}", command)
                tail = shorts[position + 1:]
                if flag.kind == "bool":
                    if tail.startswith("="):
                        _set(values, changed, flag, tail[1:], command)
                        break
                    _set(values, changed, flag, "true", command)
                    position += 1
                    continue
                if tail:
                    _set(values, changed, flag, tail[1:] if tail.startswith("=") else tail, command)
                elif index < len(rest):
                    _set(values, changed, flag, rest[index], command)
                    index += 1
                else:
                    raise CliError(f"flag needs an argument: '{letter}' in -{letter}", command)
                break
        else:
            positional.append(token)
    _check_args(command, positional)
    return Parsed(command, values, positional, changed)


def _check_args(command: Command, positional: list[str]) -> None:
    if command.args is None:
        if command.subcommands and positional and command.parent is None:
            raise CliError(f'unknown command "{positional[0]}" for "{command.path()}"', command)
        return
    low, high = command.args
    count = len(positional)
    if high == 0 and count:
        raise CliError(f'unknown command "{positional[0]}" for "{command.path()}"', command)
    if high is not None and low == high and count != low:
        raise CliError(f"accepts {low} arg(s), received {count}", command)
    if high is not None and count > high:
        if low == 0:
            raise CliError(f"accepts at most {high} arg(s), received {count}", command)
        raise CliError(f"accepts between {low} and {high} arg(s), received {count}", command)
    if count < low:
        if high is None:
            raise CliError(f"requires at least {low} arg(s), only received {count}", command)
        raise CliError(f"accepts between {low} and {high} arg(s), received {count}", command)


# -- Go's flag package (OpenTofu) ------------------------------------------------------------

def go_flags(argv: list[str], spec: dict[str, str]) -> tuple[dict[str, object], list[str]]:
    """Parse like Go's `flag.FlagSet`: `spec` maps names to bool|string|multi; stops at the first
    positional argument. Raises ValueError("flag provided but not defined: -x") on unknown flags."""
    values: dict[str, object] = {name: ([] if kind == "multi" else (False if kind == "bool" else None))
                                 for name, kind in spec.items()}
    index = 0
    while index < len(argv):
        token = argv[index]
        if token == "--":
            return values, argv[index + 1:]
        if not token.startswith("-") or token == "-":
            return values, argv[index:]
        name = token.lstrip("-")
        name, has_value, raw = name.partition("=")
        kind = spec.get(name)
        if kind is None:
            raise ValueError(f"flag provided but not defined: -{name}")
        index += 1
        if kind == "bool":
            if has_value:
                if raw.lower() not in ("1", "0", "t", "f", "true", "false"):
                    raise ValueError(f'invalid boolean value "{raw}" for -{name}: parse error')
                values[name] = raw.lower() in ("1", "t", "true")
            else:
                values[name] = True
            continue
        if not has_value:
            if index >= len(argv):
                raise ValueError(f"flag needs an argument: -{name}")
            raw = argv[index]
            index += 1
        if kind == "multi":
            values[name].append(raw)  # type: ignore[union-attr]
        else:
            values[name] = raw
    return values, []


# -- output helpers ----------------------------------------------------------------------------

def tabwriter(rows: list[list[str]], padding: int = 3) -> str:
    """text/tabwriter with minwidth 0 and padding 3: every cell but the last is padded to its
    column's width plus `padding` spaces."""
    widths: dict[int, int] = {}
    for row in rows:
        for index, cell in enumerate(row[:-1]):
            widths[index] = max(widths.get(index, 0), len(cell))
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[index] + padding) for index, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + (row[-1] if row else ""))
    return "".join(line + "\n" for line in lines)


def tablewriter(header: list[str], rows: list[list[str]]) -> str:
    """olekukonko/tablewriter v0.0.5 as `flux get` configures it: upper-case headers, no borders,
    cells padded to the column width and separated by a tab."""
    header = [title.upper() for title in header]
    widths = [len(title) for title in header]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    out = []
    if header:
        cells = [title.ljust(widths[index]) for index, title in enumerate(header)]
        out.append("\t".join(cells) + " \n")
    for row in rows:
        out.append("".join(cell.ljust(widths[index]) + "\t" for index, cell in enumerate(row)) + "\n")
    return "".join(out)


def multierror(errors: list[str]) -> str:
    """hashicorp/go-multierror's default format."""
    points = "\n\t".join(f"* {error}" for error in errors)
    if len(errors) == 1:
        return f"1 error occurred:\n\t{points}\n\n"
    return f"{len(errors)} errors occurred:\n\t{points}\n\n"


_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds."""
    if text in ("0", "+0", "-0"):
        return 0.0
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if not body:
        raise ValueError(text)
    total = 0.0
    position = 0
    for match in _DURATION_PART.finditer(body):
        if match.start() != position:
            raise ValueError(text)
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(body):
        raise ValueError(text)
    return sign * total


def format_duration(seconds: float) -> str:
    """Go's time.Duration.String for whole-second values (e.g. 60 -> "1m0s")."""
    whole = int(round(seconds))
    if whole == 0:
        return "0s"
    hours, remainder = divmod(whole, 3600)
    minutes, secs = divmod(remainder, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def humanize_bytes(size: int) -> str:
    """go-humanize's Bytes (SI units)."""
    if size < 10:
        return f"{size} B"
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
    exponent = int(math.floor(math.log(size) / math.log(1000)))
    value = math.floor(size / (1000 ** exponent) * 10 + 0.5) / 10
    return f"{value:.1f} {units[exponent]}" if value < 10 else f"{value:.0f} {units[exponent]}"
