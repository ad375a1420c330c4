"""A fake `tofu` (OpenTofu 1.11) with a toy infrastructure model in the state's `tofu` section.

The model: `desired` lists the resource addresses the configuration declares, `resources` those
in the (remote) state, `changes` addresses updated in place; `plan` diffs them, `apply` makes
`resources` equal `desired` and publishes `desired_outputs` as outputs. A `lock` held by someone
else makes plan/apply fail until `force-unlock LOCK_ID`.

Follows OpenTofu v1.11 (`cmd/tofu`, `internal/command`): Go `flag` parsing (`-flag`, `--flag`,
`-flag=value`, flags before positional arguments), diagnostics in the plain `-no-color` format on
stderr, exit code 3 from `fmt -check` when files need formatting, 2 from `plan
-detailed-exitcode` when there are changes. With a `backend "http"` block in the configuration,
init/plan/apply/destroy/output/state/force-unlock need TF_HTTP_PASSWORD (Basic auth of the state
backend) and fail like the http backend does without it. The call log keeps only the names of
TF_VAR_*/TF_HTTP_* variables and a SHA-256 of their values (see fakestate.CallLog).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import fakestate
from fakecli import go_flags

PLAN_MARKER = "fake-tofu-plan"
META = {"no-color": "bool", "input": "bool", "lock": "bool", "lock-timeout": "string", "var": "multi",
        "var-file": "multi", "compact-warnings": "bool", "consolidate-warnings": "bool",
        "consolidate-errors": "bool", "json": "bool", "concise": "bool"}
OPERATION = {**META, "target": "multi", "exclude": "multi", "replace": "multi", "refresh": "bool",
             "refresh-only": "bool", "parallelism": "string", "state": "string", "destroy": "bool",
             "show-sensitive": "bool", "deprecation": "string"}
FLAGS = {
    "init": {**META, "backend": "bool", "backend-config": "multi", "from-module": "string", "get": "bool",
             "plugin-dir": "multi", "reconfigure": "bool", "migrate-state": "bool", "force-copy": "bool",
             "upgrade": "bool", "lockfile": "string", "ignore-remote-version": "bool", "test-directory": "string"},
    "plan": {**OPERATION, "out": "string", "detailed-exitcode": "bool", "generate-config-out": "string"},
    "apply": {**OPERATION, "auto-approve": "bool", "backup": "string", "state-out": "string"},
    "destroy": {**OPERATION, "auto-approve": "bool", "backup": "string", "state-out": "string"},
    "output": {"no-color": "bool", "json": "bool", "raw": "bool", "state": "string", "show-sensitive": "bool"},
    "state list": {"state": "string", "id": "string"},
    "force-unlock": {"force": "bool", "var": "multi", "var-file": "multi"},
    "validate": {"json": "bool", "no-color": "bool", "no-tests": "bool", "test-directory": "string",
                 "var": "multi", "var-file": "multi"},
    "fmt": {"list": "bool", "write": "bool", "diff": "bool", "check": "bool", "recursive": "bool",
            "no-color": "bool"},
    "version": {"json": "bool"},
}
BOOL_DEFAULT_TRUE = {"input", "lock", "backend", "get", "refresh", "list", "write"}
LOCK_MESSAGE = """Error message: {error}

OpenTofu acquires a state lock to protect the state from being written
by multiple users at the same time. Please resolve the issue above and try
again. For most commands, you can disable locking with the "-lock=false"
flag, but this is not recommended."""


class Diagnostic(Exception):
    """An error diagnostic (summary + detail), printed in the plain format; exit code 1."""

    def __init__(self, summary: str, detail: str = "", code: int = 1):
        super().__init__(summary)
        self.summary = summary
        self.detail = detail
        self.code = code


def diagnostic(summary: str, detail: str = "", severity: str = "Error") -> str:
    text = f"\n{severity}: {summary}\n\n"
    if detail:
        text += detail + "\n"
    return text


def parse_flags(command: str, argv: list[str]) -> tuple[dict, list[str]]:
    spec = FLAGS[command]
    try:
        values, rest = go_flags(argv, spec)
    except ValueError as error:
        raise Diagnostic("Failed to parse command-line flags", str(error)) from None
    for name in BOOL_DEFAULT_TRUE & spec.keys():
        if spec[name] == "bool" and not any(a.lstrip("-").split("=")[0] == name for a in argv):
            values[name] = True
    return values, rest


# -- configuration on disk ------------------------------------------------------------------------

def tf_files(directory: Path, recursive: bool = False) -> list[Path]:
    pattern = "**/*.tf" if recursive else "*.tf"
    files = [p for p in directory.glob(pattern) if ".terraform" not in p.parts]
    files += [p for p in directory.glob(pattern.replace(".tf", ".tofu")) if ".terraform" not in p.parts]
    return sorted(files)


def backend_type(directory: Path) -> str | None:
    for path in tf_files(directory):
        match = re.search(r'backend\s+"([a-z0-9_]+)"', path.read_text())
        if match:
            return match.group(1)
    return None


def require_initialized(directory: Path) -> None:
    if backend_type(directory) and not (directory / ".terraform").is_dir():
        raise Diagnostic(
            'Backend initialization required, please run "tofu init"',
            f'Reason: Initial configuration of the requested backend "{backend_type(directory)}"\n\n'
            "The \"backend\" is the interface that OpenTofu uses to store state,\nperform operations, etc. If this "
            "message is showing up, it means that the\nOpenTofu configuration you're using is using a custom "
            "configuration for\nthe OpenTofu backend.\n\nChanges to backend configurations require "
            "reinitialization. This allows\nOpenTofu to set up the new configuration, copy existing state, etc. "
            "Please run\n\"tofu init\" with either the \"-reconfigure\" or \"-migrate-state\" flags to\nuse the "
            "current configuration.")


def declared_variables(directory: Path) -> dict[str, bool]:
    """The root module's input variables: name -> whether it is declared `ephemeral = true`."""
    declared: dict[str, bool] = {}
    for path in tf_files(directory):
        text = path.read_text()
        for match in re.finditer(r'^variable\s+"([A-Za-z0-9_-]+)"\s*\{', text, re.MULTILINE):
            depth, index = 1, match.end()
            while depth and index < len(text):
                depth += {"{": 1, "}": -1}.get(text[index], 0)
                index += 1
            body = text[match.end():index]
            declared[match.group(1)] = bool(re.search(r"^\s*ephemeral\s*=\s*true\s*$", body, re.MULTILINE))
    return declared


def set_variables(directory: Path, flags: dict) -> dict[str, str]:
    """Values given to declared variables on this run: TF_VAR_<name>, then -var name=value."""
    declared = declared_variables(directory)
    values = {name: os.environ[f"TF_VAR_{name}"] for name in declared if f"TF_VAR_{name}" in os.environ}
    for assignment in flags.get("var") or []:
        name, _, value = assignment.partition("=")
        if name in declared:
            values[name] = value
    return values


def plan_variables(directory: Path, flags: dict) -> dict:
    """What a plan file records of the variables: as OpenTofu's planfile, the value of every variable
    set (sensitive ones too, in the clear), except ephemeral ones, which only leave their names so
    that applying the plan can demand them again."""
    declared = declared_variables(directory)
    values = set_variables(directory, flags)
    return {"variables": {name: value for name, value in values.items() if not declared[name]},
            "ephemeral_variables": sorted(name for name in values if declared[name])}


def require_ephemeral_variables(directory: Path, flags: dict, saved: dict) -> None:
    missing = [name for name in saved.get("ephemeral_variables", []) if name not in set_variables(directory, flags)]
    if missing:
        raise Diagnostic("No value for required variable", f'The ephemeral input variable "{missing[0]}" was set '
                         "during the plan phase, and so\nmust also be set during the apply phase.")


def backend_auth_error(directory: Path) -> str | None:
    """The http backend answers 401 without Basic-auth credentials."""
    if backend_type(directory) == "http" and not os.environ.get("TF_HTTP_PASSWORD"):
        return "HTTP remote state endpoint requires auth"
    return None


def acquire_lock(directory: Path, state: dict, flags: dict, operation: str) -> None:
    error = backend_auth_error(directory)
    if error:
        if flags.get("lock", True):
            raise Diagnostic("Error acquiring the state lock", LOCK_MESSAGE.format(error=error))
        raise Diagnostic(f"Failed to load state: {error}")
    lock = state["tofu"].get("lock")
    if lock and flags.get("lock", True):
        info = (f"HTTP remote state already locked: ID={lock.get('ID', '')}\nLock Info:\n"
                f"  ID:        {lock.get('ID', '')}\n  Path:      {lock.get('Path', '')}\n"
                f"  Operation: {lock.get('Operation', 'OperationTypeApply')}\n  Who:       {lock.get('Who', '')}\n"
                f"  Version:   {lock.get('Version', fakestate.DEFAULT_TOOL_VERSIONS['tofu'])}\n"
                f"  Created:   {lock.get('Created', '')}\n  Info:      {lock.get('Info', '')}\n")
        raise Diagnostic("Error acquiring the state lock", LOCK_MESSAGE.format(error=info))


# -- plan / apply ---------------------------------------------------------------------------------

def compute_plan(tofu: dict, destroy: bool, targets: list[str]) -> dict:
    desired = [] if destroy else list(tofu.get("desired", []))
    current = list(tofu.get("resources", []))
    plan = {
        "add": [a for a in desired if a not in current],
        "change": [a for a in tofu.get("changes", []) if a in current and a in desired],
        "destroy": [a for a in current if a not in desired],
    }
    if targets:
        plan = {key: [a for a in addresses if any(a == t or a.startswith(t + "[") or a.startswith(t + ".")
                                                  for t in targets)] for key, addresses in plan.items()}
    return plan


def split_address(address: str) -> tuple[str, str]:
    """('proxmox_vm', 'node') for 'module.x.proxmox_vm.node["a"]'."""
    bare = re.sub(r"\[[^\]]*\]$", "", address)
    parts = bare.split(".")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else (bare, bare)


def render_plan(plan: dict) -> str:
    if not any(plan.values()):
        return ("\nNo changes. Your infrastructure matches the configuration.\n\nOpenTofu has compared your real "
                "infrastructure against your configuration\nand found no differences, so no changes are needed.\n")
    symbols = []
    if plan["add"]:
        symbols.append("  + create")
    if plan["change"]:
        symbols.append("  ~ update in-place")
    if plan["destroy"]:
        symbols.append("  - destroy")
    out = ["", "OpenTofu used the selected providers to generate the following execution",
           "plan. Resource actions are indicated with the following symbols:", *symbols, "",
           "OpenTofu will perform the following actions:", ""]
    for key, verb, sign in (("add", "created", "+"), ("change", "updated in-place", "~"),
                            ("destroy", "destroyed", "-")):
        for address in plan[key]:
            kind, name = split_address(address)
            out += [f"  # {address} will be {verb}", f"  {sign} resource \"{kind}\" \"{name}\" {{",
                    f"      {sign} id = {'(known after apply)' if sign == '+' else json.dumps(resource_id(address))}",
                    "    }", ""]
    out.append(f"Plan: {len(plan['add'])} to add, {len(plan['change'])} to change, "
               f"{len(plan['destroy'])} to destroy.")
    return "\n".join(out) + "\n"


def resource_id(address: str) -> str:
    return str(100 + int(fakestate.sha256_text(address)[:4], 16) % 900)


def format_value(value: object, indent: int = 0) -> str:
    """OpenTofu's human rendering of an output value (repl.FormatValue)."""
    pad = "  " * (indent + 1)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = "".join(f"{pad}{format_value(v, indent + 1)},\n" for v in value)
        return "[\n" + inner + "  " * indent + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        width = max(len(json.dumps(k)) for k in value)
        inner = "".join(f"{pad}{json.dumps(k).ljust(width)} = {format_value(v, indent + 1)}\n"
                        for k, v in sorted(value.items()))
        return "{\n" + inner + "  " * indent + "}"
    return str(value)


def value_type(value: object) -> object:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return ["tuple", [value_type(v) for v in value]]
    if isinstance(value, dict):
        return ["object", {k: value_type(v) for k, v in value.items()}]
    return "dynamic"


def output_entries(tofu: dict) -> dict[str, dict]:
    """name -> {"value", "sensitive", "type"} (state outputs may be given as bare values)."""
    entries = {}
    for name, raw in (tofu.get("outputs") or {}).items():
        entry = raw if isinstance(raw, dict) and "value" in raw else {"value": raw}
        entries[name] = {"value": entry["value"], "sensitive": bool(entry.get("sensitive", False)),
                         "type": entry.get("type", value_type(entry["value"]))}
    return entries


def render_outputs(tofu: dict) -> str:
    entries = output_entries(tofu)
    if not entries:
        return ""
    lines = ["", "Outputs:", ""]
    for name in sorted(entries):
        entry = entries[name]
        lines.append(f"{name} = <sensitive>" if entry["sensitive"] else f"{name} = {format_value(entry['value'])}")
    return "\n".join(lines) + "\n"


def apply_plan(state: dict, plan: dict) -> str:
    tofu = state["tofu"]
    if tofu.get("apply_error"):
        raise Diagnostic(str(tofu["apply_error"]))
    lines = []
    for address in plan["destroy"]:
        lines += [f"{address}: Destroying... [id={resource_id(address)}]", f"{address}: Destruction complete after 1s"]
    for address in plan["change"]:
        lines += [f"{address}: Modifying... [id={resource_id(address)}]",
                  f"{address}: Modifications complete after 1s [id={resource_id(address)}]"]
    for address in plan["add"]:
        lines += [f"{address}: Creating...", f"{address}: Creation complete after 1s [id={resource_id(address)}]"]
    resources = [a for a in tofu.get("resources", []) if a not in plan["destroy"]]
    resources += [a for a in plan["add"] if a not in resources]
    tofu["resources"] = resources
    tofu["changes"] = [a for a in tofu.get("changes", []) if a not in plan["change"]]
    tofu["serial"] = tofu.get("serial", 0) + 1
    tofu["outputs"] = dict(tofu.get("desired_outputs") or {}) if resources else {}
    tofu["apply_count"] = tofu.get("apply_count", 0) + 1
    return "\n".join(lines) + ("\n" if lines else "")


INTERRUPTED = "\nInterrupt received.\nPlease wait for OpenTofu to exit or data loss may occur.\nGracefully shutting down...\n\nStopping operation...\n"
FATAL_INTERRUPT = "\nTwo interrupts received. Exiting immediately. Note that data loss may have occurred.\n"


def own_lock(directory: Path, operation: str) -> dict:
    """The lock this process holds while it works (the http backend's LockInfo fields)."""
    import getpass
    import socket
    import uuid
    from datetime import datetime, timezone

    return {"ID": str(uuid.uuid4()), "Path": str(directory / "terraform.tfstate"), "Operation": operation,
            "Who": f"{getpass.getuser()}@{socket.gethostname()}", "Version": fakestate.client_version("tofu"),
            "Created": datetime.now(timezone.utc).isoformat(), "Info": "", "pid": os.getpid()}


class Interrupts:
    """SIGINT and SIGTERM as OpenTofu treats them (both count as an interrupt), recorded in the
    state's `tofu.signals` so a test can see what tofu received."""

    def __init__(self) -> None:
        import signal

        self.count = 0
        self.signals: list[str] = []
        self.abandon_lock = False
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._received)

    def _received(self, signum: int, _frame: object) -> None:
        import signal

        # Only noted here: taking the state's file lock inside a handler could deadlock.
        self.count += 1
        self.signals.append(signal.Signals(signum).name)

    def wait(self, seconds: float, *, count: int = 1) -> bool:
        """Sleep up to `seconds` (the resource operations); True as soon as `count` interrupts came."""
        import time

        deadline = time.monotonic() + seconds
        while self.count < count and time.monotonic() < deadline:
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        return self.count >= count

    def finish(self, locked: bool) -> None:
        """Record the signals received and, unless the process gave up on it, release its lock."""
        with fakestate.locked_state() as state:
            state["tofu"].setdefault("signals", []).extend(self.signals)
            if locked and not self.abandon_lock and (state["tofu"].get("lock") or {}).get("pid") == os.getpid():
                state["tofu"]["lock"] = None


def approve(flags: dict, destroy: bool) -> bool:
    if flags.get("auto-approve"):
        return True
    if destroy:
        query, description = ("Do you really want to destroy all resources?",
                              "OpenTofu will destroy all your managed infrastructure, as shown above.\n"
                              "There is no undo. Only 'yes' will be accepted to confirm.")
    else:
        query, description = ("Do you want to perform these actions?",
                              "OpenTofu will perform the actions described above.\n"
                              "Only 'yes' will be accepted to approve.")
    described = "\n".join("  " + line for line in description.split("\n"))
    sys.stdout.write(f"\n{query}\n{described}\n\n  Enter a value: ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip() if flags.get("input", True) else ""
    sys.stdout.write("\n")
    return answer == "yes"


# -- commands ---------------------------------------------------------------------------------------

def cmd_init(directory: Path, argv: list[str]) -> int:
    flags, _ = parse_flags("init", argv)
    files = tf_files(directory)
    if not files:
        sys.stdout.write("\nOpenTofu initialized in an empty directory!\n\nThe directory has no OpenTofu "
                         "configuration files. You may begin working\nwith OpenTofu immediately by creating "
                         "OpenTofu configuration files.\n")
        return 0
    backend = backend_type(directory) if flags["backend"] else None
    if backend:
        sys.stdout.write("\nInitializing the backend...\n")
        error = backend_auth_error(directory)
        newly = not (directory / ".terraform" / "terraform.tfstate").is_file() or flags["reconfigure"]
        if newly:
            sys.stdout.write(f"\nSuccessfully configured the backend \"{backend}\"! OpenTofu will automatically\n"
                             "use this backend unless the backend configuration changes.\n")
        (directory / ".terraform").mkdir(exist_ok=True)
        (directory / ".terraform" / "terraform.tfstate").write_text(json.dumps(
            {"version": 3, "backend": {"type": backend}}, indent=2) + "\n")
        if error:
            sys.stderr.write(f"Error refreshing state: {error}\n")
            return 1
    (directory / ".terraform").mkdir(exist_ok=True)
    providers = sorted(set(re.findall(r'source\s*=\s*"([^"]+)"', "".join(p.read_text() for p in files))))
    if providers:
        sys.stdout.write("\nInitializing provider plugins...\n")
        for provider in providers:
            sys.stdout.write(f"- Finding latest version of {provider}...\n")
        for provider in providers:
            sys.stdout.write(f"- Installing {provider} v0.0.0-fake...\n- Installed {provider} v0.0.0-fake "
                             "(signed, key ID 0000000000000000)\n")
        lockfile = directory / ".terraform.lock.hcl"
        if not lockfile.exists():
            lockfile.write_text("# This file is maintained automatically by \"tofu init\".\n" + "".join(
                f'provider "registry.opentofu.org/{p}" {{\n  version = "0.0.0-fake"\n}}\n' for p in providers))
    with fakestate.locked_state() as state:
        state["tofu"]["init_count"] = state["tofu"].get("init_count", 0) + 1
    sys.stdout.write("\nOpenTofu has been successfully initialized!\n\nYou may now begin working with OpenTofu. "
                     "Try running \"tofu plan\" to see\nany changes that are required for your infrastructure. All "
                     "OpenTofu commands\nshould now work.\n")
    return 0


def cmd_plan(directory: Path, argv: list[str]) -> int:
    flags, rest = parse_flags("plan", argv)
    if rest:
        raise Diagnostic("Too many command line arguments", "To specify a working directory for the plan, use the "
                                                            "global -chdir flag.")
    require_initialized(directory)
    if not tf_files(directory) and not flags["destroy"]:
        raise Diagnostic("No configuration files", "Plan requires configuration to be present. Planning without a "
                         "configuration would mark everything for destruction, which is normally not what is "
                         "desired. If you would like to destroy everything, run plan with the -destroy option. "
                         "Otherwise, create a OpenTofu configuration file (.tf file) and try again.")
    with fakestate.locked_state() as state:
        acquire_lock(directory, state, flags, "plan")
        plan = compute_plan(state["tofu"], flags["destroy"], flags["target"])
        serial = state["tofu"].get("serial", 0)
        state["tofu"]["plan_count"] = state["tofu"].get("plan_count", 0) + 1
    sys.stdout.write(render_plan(plan))
    changed = any(plan.values())
    if flags["out"]:
        out = Path(flags["out"]) if Path(flags["out"]).is_absolute() else directory / flags["out"]
        out.write_text(json.dumps({PLAN_MARKER: 1, "serial": serial, "destroy": flags["destroy"], **plan,
                                   **plan_variables(directory, flags)}, indent=2) + "\n")
        sys.stdout.write("\n" + "─" * 77 + "\n\nSaved the plan to: " + flags["out"] + "\n\nTo perform exactly "
                         "these actions, run the following command to apply:\n    tofu apply "
                         + json.dumps(flags["out"]) + "\n")
    elif changed:
        sys.stdout.write("\n" + "─" * 77 + "\n\nNote: You didn't use the -out option to save this plan, so OpenTofu "
                         "can't guarantee to take exactly these actions if you run \"tofu apply\" now.\n")
    return 2 if flags["detailed-exitcode"] and changed else 0


def cmd_apply(directory: Path, argv: list[str], *, destroy: bool = False) -> int:
    flags, rest = parse_flags("destroy" if destroy else "apply", argv)
    destroy = destroy or flags["destroy"]
    if len(rest) > 1:
        raise Diagnostic("Too many command line arguments", "Expected at most one positional argument.")
    plan_path = rest[0] if rest else None
    saved = None
    if plan_path:
        path = Path(plan_path) if Path(plan_path).is_absolute() else directory / plan_path
        if not path.exists():
            raise Diagnostic(f'Failed to load "{plan_path}" as a plan file', f"Error: stat {plan_path}: no such file "
                                                                              "or directory")
        if path.is_dir():
            raise Diagnostic(f'Failed to load "{plan_path}" as a plan file', "The specified path is a directory, not "
                             "a plan file. You can use the global -chdir flag to use this directory as the "
                             "configuration root.")
        try:
            saved = json.loads(path.read_text())
            assert saved.get(PLAN_MARKER) == 1
        except (ValueError, AssertionError, AttributeError):
            raise Diagnostic(f'Failed to load "{plan_path}" as a plan file',
                             "Error: zip: not a valid zip file") from None
    require_initialized(directory)
    if saved is not None:
        require_ephemeral_variables(directory, flags, saved)
    interrupts = Interrupts()
    with fakestate.locked_state() as state:
        acquire_lock(directory, state, flags, "apply")
        if saved is not None:
            if saved["serial"] != state["tofu"].get("serial", 0):
                raise Diagnostic("Saved plan is stale", "The given plan file can no longer be applied because the "
                                 "state was changed by another operation after the plan was created.")
            plan = {key: saved[key] for key in ("add", "change", "destroy")}
        else:
            plan = compute_plan(state["tofu"], destroy, flags["target"])
        if flags.get("lock", True):
            state["tofu"]["lock"] = own_lock(directory, "OperationTypeApply")
        seconds = float(state["tofu"].get("apply_seconds") or 0)
        stop_seconds = float(state["tofu"].get("stop_seconds", 0.5))
    try:
        if saved is None:
            sys.stdout.write(render_plan(plan))
            if any(plan.values()) and not approve(flags, destroy):
                sys.stdout.write(("Destroy" if destroy else "Apply") + " cancelled.\n")
                return 1
        if interrupts.wait(seconds):
            # The first interrupt stops the run after the in-flight operations; a second one
            # (or SIGKILL) ends the process at once and the lock stays held.
            sys.stdout.write(INTERRUPTED)
            sys.stdout.flush()
            if interrupts.wait(stop_seconds, count=2):
                sys.stderr.write(FATAL_INTERRUPT)
                interrupts.abandon_lock = True
                return 1
            raise Diagnostic("execution halted")
        with fakestate.locked_state() as state:
            log = apply_plan(state, plan)
            outputs = render_outputs(state["tofu"])
    finally:
        interrupts.finish(flags.get("lock", True))
    sys.stdout.write(log)
    verb = "Destroy" if destroy else "Apply"
    if destroy:
        sys.stdout.write(f"\n{verb} complete! Resources: {len(plan['destroy'])} destroyed.\n")
    else:
        sys.stdout.write(f"\n{verb} complete! Resources: {len(plan['add'])} added, {len(plan['change'])} changed, "
                         f"{len(plan['destroy'])} destroyed.\n")
        sys.stdout.write(outputs)
    return 0


def cmd_output(directory: Path, argv: list[str]) -> int:
    flags, rest = parse_flags("output", argv)
    if len(rest) > 1:
        raise Diagnostic("Unexpected argument", "The output command expects exactly one argument with the name of "
                                                "an output variable or no arguments to show all outputs.")
    error = backend_auth_error(directory)
    if error:
        raise Diagnostic(f"Failed to load state: {error}")
    entries = output_entries(fakestate.snapshot()["tofu"])
    name = rest[0] if rest else ""
    if name and name not in entries:
        raise Diagnostic(f"Output \"{name}\" not found", "The output variable requested could not be found in the "
                         "state file. If you recently added this to your configuration, be sure to run `tofu "
                         "apply`, since the state won't be updated with new output variables until that command "
                         "is run.")
    if flags["json"]:
        if name:
            sys.stdout.write(json.dumps(entries[name]["value"], separators=(",", ":")) + "\n")
        else:
            body = {k: {"sensitive": e["sensitive"], "type": e["type"], "value": e["value"]}
                    for k, e in sorted(entries.items())}
            sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return 0
    if flags["raw"]:
        if not name:
            raise Diagnostic("Raw output format is only supported for single outputs")
        value = entries[name]["value"]
        if isinstance(value, (dict, list)):
            raise Diagnostic("Unsupported value for raw output", f"The -raw option only supports strings, numbers, "
                             f"and boolean values, but output value \"{name}\" is {value_type(value)[0]}.")
        sys.stdout.write(value if isinstance(value, str) else format_value(value))
        return 0
    if not entries:
        sys.stderr.write(diagnostic("No outputs found", "The state file either has no outputs defined, or all the "
                                    "defined outputs are empty. Please define an output in your configuration with "
                                    "the `output` keyword and run `tofu refresh` for it to become available. If you "
                                    "are using interpolation, please verify the interpolated value is not empty. You "
                                    "can use the `tofu console` command to assist.", "Warning"))
        return 0
    if name:
        sys.stdout.write(format_value(entries[name]["value"]) + "\n")
        return 0
    for key in sorted(entries):
        entry = entries[key]
        shown = "<sensitive>" if entry["sensitive"] and not flags["show-sensitive"] else format_value(entry["value"])
        sys.stdout.write(f"{key} = {shown}\n")
    return 0


def cmd_state(directory: Path, argv: list[str]) -> int:
    if not argv or argv[0] != "list":
        sys.stderr.write("Usage: tofu [global options] state <subcommand> [options] [args]\n\n  This command has "
                         "subcommands for advanced state management.\n")
        return 1
    flags, rest = parse_flags("state list", argv[1:])
    error = backend_auth_error(directory)
    if error:
        raise Diagnostic(f"Failed to load state: {error}")
    resources = sorted(fakestate.snapshot()["tofu"].get("resources", []))
    if rest:
        resources = [r for r in resources if any(r == f or r.startswith(f + "[") or r.startswith(f + ".")
                                                 for f in rest)]
    sys.stdout.write("".join(r + "\n" for r in resources))
    return 0


def cmd_force_unlock(directory: Path, argv: list[str]) -> int:
    flags, rest = parse_flags("force-unlock", argv)
    if len(rest) != 1:
        sys.stderr.write("Expected a single argument: LOCK_ID\n")
        return 1
    lock_id = rest[0]
    error = backend_auth_error(directory)
    if error:
        sys.stderr.write(f"Failed to load state: {error}\n")
        return 1
    if not flags["force"]:
        sys.stdout.write("Do you really want to force-unlock?\n  OpenTofu will remove the lock on the remote state.\n"
                         "  This will allow local OpenTofu commands to modify this state, even though it\n"
                         "  may still be in use. Only 'yes' will be accepted to confirm.\n\n  Enter a value: ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip()
        sys.stdout.write("\n")
        if answer != "yes":
            sys.stdout.write("force-unlock cancelled.\n")
            return 1
    with fakestate.locked_state() as state:
        lock = state["tofu"].get("lock")
        if lock and lock.get("ID") != lock_id:
            sys.stderr.write(f'Failed to unlock state: lock id "{lock_id}" does not match existing lock\n')
            return 1
        state["tofu"]["lock"] = None
        state["tofu"]["unlock_count"] = state["tofu"].get("unlock_count", 0) + 1
    sys.stdout.write("OpenTofu state has been successfully unlocked!\n\nThe state has been unlocked, and OpenTofu "
                     "commands should now be able to\nobtain a new lock on the remote state.\n")
    return 0


def cmd_validate(directory: Path, argv: list[str]) -> int:
    flags, _ = parse_flags("validate", argv)
    errors = list(fakestate.snapshot()["tofu"].get("validate_errors") or [])
    sources = "".join(p.read_text() for p in tf_files(directory))
    if "required_providers" in sources and not (directory / ".terraform").is_dir():
        errors.append("Missing required provider")
    if flags["json"]:
        body = {"format_version": "1.0", "valid": not errors, "error_count": len(errors), "warning_count": 0,
                "diagnostics": [{"severity": "error", "summary": e, "detail": ""} for e in errors]}
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return 1 if errors else 0
    if errors:
        for error in errors:
            sys.stderr.write(diagnostic(error))
        return 1
    sys.stdout.write("Success! The configuration is valid.\n\n")
    return 0


def formatting_problems(text: str) -> bool:
    """The part of `tofu fmt` the fake checks: trailing spaces, tab indentation, CRLF, last newline."""
    if not text:
        return False
    return ("\r\n" in text or not text.endswith("\n") or text.endswith("\n\n")
            or any(line != line.rstrip() or line.startswith("\t") for line in text.split("\n")))


def normalise(text: str) -> str:
    lines = [line.rstrip().replace("\t", "  ") for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).rstrip("\n") + "\n"


def cmd_fmt(directory: Path, argv: list[str]) -> int:
    flags, rest = parse_flags("fmt", argv)
    targets = [directory / r for r in rest] or [directory]
    files: list[Path] = []
    for target in targets:
        if target.is_file():
            files.append(target)
        elif target.is_dir():
            files += [p for p in tf_files(target, flags["recursive"]) if p.suffix in (".tf", ".tofu")]
            files += sorted(p for p in target.glob("**/*.tfvars" if flags["recursive"] else "*.tfvars"))
        else:
            sys.stderr.write(diagnostic("No file or directory at " + str(target)))
            return 2
    forced = set(fakestate.snapshot()["tofu"].get("unformatted") or [])
    bad = []
    for path in files:
        relative = os.path.relpath(path, directory)
        if formatting_problems(path.read_text()) or relative in forced:
            bad.append((path, relative))
    for path, relative in bad:
        if flags["list"]:
            sys.stdout.write(relative + "\n")
        if not flags["check"] and flags["write"]:
            path.write_text(normalise(path.read_text()))
    if flags["check"] and bad:
        return 3
    return 0


def cmd_version(directory: Path, argv: list[str]) -> int:
    flags, _ = parse_flags("version", argv)
    version = fakestate.client_version("tofu")
    if flags["json"]:
        sys.stdout.write(json.dumps({"terraform_version": version, "platform": "linux_amd64",
                                     "provider_selections": {}}, indent=2) + "\n")
    else:
        sys.stdout.write(f"OpenTofu v{version}\non linux_amd64\n")
    return 0


COMMANDS = {
    "init": cmd_init, "plan": cmd_plan, "apply": cmd_apply,
    "destroy": lambda d, a: cmd_apply(d, a, destroy=True),
    "output": cmd_output, "state": cmd_state, "force-unlock": cmd_force_unlock, "validate": cmd_validate,
    "fmt": cmd_fmt, "version": cmd_version,
}


def main(argv: list[str]) -> int:
    args = list(argv)
    directory = Path.cwd()
    while args and args[0].startswith("-chdir"):
        value = args.pop(0).partition("=")[2]
        if not value and args:
            value = args.pop(0)
        directory = (directory / value).resolve()
        if not directory.is_dir():
            sys.stderr.write(f"Error handling -chdir option: chdir {value}: no such file or directory\n")
            return 1
    if any(a in ("-v", "-version", "--version") for a in args[:1]):
        return cmd_version(directory, [])
    if not args or args[0] in ("-help", "--help", "-h"):
        sys.stdout.write("Usage: tofu [global options] <subcommand> [args]\n\nMain commands:\n  init          Prepare "
                         "your working directory for other commands\n  validate      Check whether the configuration "
                         "is valid\n  plan          Show changes required by the current configuration\n  apply      "
                         "   Create or update infrastructure\n  destroy       Destroy previously-created "
                         "infrastructure\n")
        return 0 if args else 127
    command, rest = args[0], args[1:]
    handler = COMMANDS.get(command)
    if handler is None:
        sys.stderr.write(f"OpenTofu has no command named \"{command}\".\n\nTo see all of OpenTofu's top-level "
                         "commands, run:\n  tofu -help\n\n")
        return 1
    try:
        return handler(directory, rest)
    except Diagnostic as error:
        sys.stderr.write(diagnostic(error.summary, error.detail))
        return error.code
