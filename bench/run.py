"""Benchmarks: `inv configure` against makejinja, `inv --list` against invoke's floor and go-task,
configure at 3/30/300 nodes. Every comparison runs its candidates interleaved in one process, several
times, and reports medians and ratios (this machine is noisy; absolute numbers mean little).

    .venv/bin/python bench/run.py                 # everything
    .venv/bin/python bench/run.py configure scale # a subset
    .venv/bin/python bench/run.py --repeat 9

Needs the `bench` extra (`pip install -e '.[bench,bundled-tools]'`): makejinja and go-task-bin.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PROJECT_PARTS = ("tasks.py", "tasks", "templates")
OUTPUTS = ("kubernetes", "talos", "bootstrap", "infrastructure", ".sops.yaml", ".generated-files")
STATE_DIR = ".inv"  # configure's state: the up-to-date fingerprint and the build/compile caches
TIMING_LINE = re.compile(r"^  (?P<stage>.+?)\s{2,}(?P<seconds>[0-9.]+)$")
TASK_TOTAL = "total in the task"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenarios import all_components_cluster, nodes_yaml  # noqa: E402


def copy_project(target: Path) -> Path:
    target.mkdir(parents=True)
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / part)
    return target


def inv(root: Path, *args: str) -> None:
    subprocess.run([str(BIN / "inv"), *args], cwd=root, check=True, capture_output=True, text=True)


def prepare(root: Path, nodes: int = 2, *, all_components: bool = True) -> Path:
    copy_project(root)
    inv(root, "init")
    shutil.copy(root / "templates/samples/cloudflare-tunnel.sample.json", root / "cloudflare-tunnel.json")
    if all_components:
        (root / "cluster.yaml").write_text(all_components_cluster(nodes))
    (root / "nodes.yaml").write_text(nodes_yaml(nodes))
    return root


GNU_TIME = Path("/usr/bin/time")


def timed(command: list[str], cwd: Path, before=None) -> tuple[float, int, dict[str, float]]:
    """Wall seconds, peak RSS (KiB) and the stage timings it printed (`--timings`) of one run.

    The peak comes from GNU time when it is installed: the child of a Python process is forked from
    it, and Linux reports the pre-exec image in that child's peak RSS, so measuring from here would
    charge every command with this process's own memory."""
    if before:
        before()
    measured = [str(GNU_TIME), "--format", "%M", *command] if GNU_TIME.exists() else command
    started = time.perf_counter()
    process = subprocess.run(measured, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)} in {cwd}\n{process.stdout}\n{process.stderr}")
    peak = int(process.stderr.strip().splitlines()[-1]) if GNU_TIME.exists() else 0
    return elapsed, peak, stage_timings(process.stdout, elapsed)


def stage_timings(stdout: str, wall: float) -> dict[str, float]:
    """The `timings (seconds):` block of `inv configure --timings`, plus what the task itself cannot
    see: Python and invoke starting up (and exiting), the wall time minus the task's own total."""
    stages = {}
    for line in stdout.split("timings (seconds):\n", 1)[-1].splitlines() if "timings (seconds):" in stdout else []:
        match = TIMING_LINE.match(line)
        if match:
            stages[match["stage"]] = float(match["seconds"])
    if TASK_TOTAL in stages:
        stages = {"python + invoke start-up and exit": wall - stages[TASK_TOTAL], **stages}
    return stages


def compare(candidates: dict[str, tuple[list[str], Path, object]], repeat: int) -> dict[str, dict]:
    """Run the candidates interleaved `repeat` times; medians of time, peak memory and stages."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    memory: dict[str, list[int]] = {name: [] for name in candidates}
    stages: dict[str, dict[str, list[float]]] = {name: {} for name in candidates}
    for name, (command, cwd, before) in candidates.items():  # warm-up: page cache, .pyc files
        timed(command, cwd, before)
    for _ in range(repeat):
        for name, (command, cwd, before) in candidates.items():
            seconds, rss, breakdown = timed(command, cwd, before)
            times[name].append(seconds)
            memory[name].append(rss)
            for stage, value in breakdown.items():
                stages[name].setdefault(stage, []).append(value)
    results = {}
    for name in candidates:
        results[name] = {"median_s": statistics.median(times[name]), "min_s": min(times[name]),
                         "peak_rss_mib": statistics.median(memory[name]) / 1024}
        if stages[name]:
            results[name]["stages_median_s"] = {stage: round(statistics.median(values), 4)
                                                for stage, values in stages[name].items()}
    return results


def remove_outputs(root: Path, *, state_too: bool = False):
    """Delete the outputs before a run; with `state_too`, configure's state and caches as well, so
    the run is a true first run."""
    def clean() -> None:
        for name in OUTPUTS + ((STATE_DIR,) if state_too else ()):
            path = root / name
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()
    return clean


def edit_gateway_address(root: Path):
    """A one-key edit before each run: `cluster_gateway_addr` moves to an address not used before,
    so no cache can hold the result of an earlier run."""
    counter = iter(range(20, 250))

    def edit() -> None:
        config = root / "cluster.yaml"
        text = re.sub(r'^cluster_gateway_addr: .*$', f'cluster_gateway_addr: "10.10.255.{next(counter)}"',
                      config.read_text(), flags=re.MULTILINE)
        config.write_text(text)
    return edit


def write_makejinja_setup(root: Path, work: Path) -> list[str]:
    """A makejinja run over the same templates and the same context (exported unredacted, for the
    benchmark only), with the project's filters supplied by a tiny plugin."""
    sys.path.insert(0, str(REPO / "lib"))
    from cluster_template.ops.configure import build_context
    from cluster_template.run import Executor

    _, context = build_context(root, Executor())
    (work / "context.json").write_text(json.dumps(context))
    (work / "bench_plugin.py").write_text(
        "from pathlib import Path\n"
        "import jinja2\n"
        "from cluster_template.render import make_environment\n"
        "class Plugin:\n"
        "    def __init__(self, **kwargs):\n        pass\n"
        "    def filters(self):  # every filter the project adds, by its function name\n"
        "        builtin = jinja2.Environment().filters\n"
        "        return [f for name, f in make_environment(Path('.')).filters.items() if name not in builtin]\n"
    )
    (work / "makejinja.toml").write_text(f"""\
[makejinja]
inputs = ["{root / 'templates/config'}"]
output = "{work / 'out'}"
data = ["{work / 'context.json'}"]
import_paths = ["{work}"]
plugins = ["bench_plugin:Plugin"]
jinja_suffix = ".j2"
force = true
undefined = "strict"

[makejinja.delimiter]
block_start = "#%"
block_end = "%#"
comment_start = "#|"
comment_end = "#|"
variable_start = "#{{"
variable_end = "}}#"
""")
    return [str(BIN / "makejinja")]  # reads makejinja.toml from its working directory


def same_render(root: Path, work: Path) -> tuple[int, int]:
    """(files compared, files that differ) between makejinja's output and our plaintext render."""
    from cluster_template.ops.configure import build_context
    from cluster_template.render import render_templates
    from cluster_template.run import Executor

    _, context = build_context(root, Executor())
    ours = render_templates(root / "templates/config", context)
    differ = sum(1 for path, content in ours.items()
                 if not (work / "out" / path).is_file() or (work / "out" / path).read_bytes() != content)
    return len(ours), differ


def bench_configure(repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        root = prepare(scratch / "repo")
        work = scratch / "mj"
        work.mkdir()
        makejinja = write_makejinja_setup(root, work)
        configure = [str(BIN / "inv"), "configure", "--yes", "--timings"]
        inv(root, "configure", "--yes")
        original_config = (root / "cluster.yaml").read_text()
        results = compare({
            "inv configure (first run: no outputs, no state or caches)": (configure, root,
                                                                          remove_outputs(root, state_too=True)),
            "inv configure (outputs removed, caches kept)": (configure, root, remove_outputs(root)),
            "inv configure (one-key edit: cluster_gateway_addr)": (configure, root, edit_gateway_address(root)),
            "inv configure (nothing changed)": (configure, root, None),
            "makejinja render only": (makejinja, work, None),
        }, repeat)
        (root / "cluster.yaml").write_text(original_config)  # the context makejinja rendered with
        compared, differ = same_render(root, work)
        files = len((root / ".generated-files").read_text().splitlines()) - 1
    makejinja_time = results["makejinja render only"]["median_s"]
    first_run = results["inv configure (first run: no outputs, no state or caches)"]["median_s"]
    return {"results": results, "rendered_files": files,
            "ratios_to_makejinja": {name: r["median_s"] / makejinja_time for name, r in results.items()},
            "one_key_edit_to_first_run": results["inv configure (one-key edit: cluster_gateway_addr)"]["median_s"]
            / first_run,
            "makejinja_output_identical": f"{compared - differ}/{compared} files byte-identical"}


def taskfile_of_same_shape(root: Path, target: Path) -> None:
    """A Taskfile with the same root tasks and namespaces as `inv --list` shows."""
    listing = json.loads(subprocess.run([str(BIN / "inv"), "--list", "--list-format", "json"], cwd=root,
                                        check=True, capture_output=True, text=True).stdout)

    def tasks_yaml(tasks: list[dict]) -> str:
        return "".join(f"  {t['name']}:\n    desc: \"{(t.get('help') or t['name']).splitlines()[0][:60]}\"\n"
                       f"    cmds: [\"true\"]\n" for t in tasks)

    includes = "".join(f"  {c['name']}: ./{c['name']}.yml\n" for c in listing["collections"])
    (target / "Taskfile.yml").write_text(f"version: '3'\nincludes:\n{includes}tasks:\n{tasks_yaml(listing['tasks'])}")
    for collection in listing["collections"]:
        (target / f"{collection['name']}.yml").write_text(f"version: '3'\ntasks:\n{tasks_yaml(collection['tasks'])}")


def bench_startup(repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        root = copy_project(scratch / "repo")
        empty = scratch / "empty"
        empty.mkdir()
        (empty / "tasks.py").write_text("from invoke import task\n\n\n@task\ndef noop(c):\n    pass\n")
        go_task = scratch / "gotask"
        go_task.mkdir()
        taskfile_of_same_shape(root, go_task)
        results = compare({
            "inv --list (this project)": ([str(BIN / "inv"), "--list"], root, None),
            "inv --list (empty tasks.py)": ([str(BIN / "inv"), "--list"], empty, None),
            "task --list (same shape)": ([str(BIN / "task"), "--list"], go_task, None),
        }, repeat * 3)
    floor = results["inv --list (empty tasks.py)"]["median_s"]
    return {"results": results, "ratio_to_invoke_floor": results["inv --list (this project)"]["median_s"] / floor,
            "ratio_to_go_task": results["inv --list (this project)"]["median_s"] / results["task --list (same shape)"]["median_s"]}


def bench_scale(repeat: int) -> dict:
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for count in (3, 30, 300):
            root = prepare(Path(scratch) / f"repo{count}", nodes=count)
            command = [str(BIN / "inv"), "configure", "--yes"]
            cold = compare({"cold": (command, root, remove_outputs(root, state_too=True))}, repeat)["cold"]
            rows[count] = cold
    per_node_time = (rows[300]["median_s"] - rows[3]["median_s"]) / 297
    per_node_mem = (rows[300]["peak_rss_mib"] - rows[3]["peak_rss_mib"]) / 297
    return {"results": rows, "seconds_per_added_node": per_node_time, "mib_per_added_node": per_node_mem}


def bench_upgrade(repeat: int, upgrade_seconds: float = 2.0) -> dict:
    """`inv talos.upgrade` on a simulated 3-controller + 6-worker cluster (the fake talosctl and
    Kubernetes API of tests/fakes), every node taking `upgrade_seconds` to upgrade: serial workers
    against --max-parallel 3. The ideal is 9 durations serially and 3 + 2 with three workers at once."""
    sys.path.insert(0, str(REPO))
    from tests.day2.conftest import make_day2
    from tests.fakes import fakestate
    from tests.fakes.kube_api import start_kube_api

    def run(parallel: int, scratch: Path) -> tuple[float, dict[str, float]]:
        servers = []

        def kube(tools):
            api = start_kube_api(tools.state_path)
            servers.append(api)
            tools.overrides[fakestate.KUBE_API_ENV] = api.url
            tools.env[fakestate.KUBE_API_ENV] = api.url
            api.kubeconfig = tools.use_kubeconfig(server=api.url)
            return api

        day2 = make_day2(scratch, controllers=3, workers=6, kube=kube)
        try:
            for node in day2.cluster.nodes():
                day2.cluster.set_upgrade_seconds(node["ip"], upgrade_seconds)
            started = time.perf_counter()
            result = day2.inv("talos.upgrade", "--max-parallel", str(parallel), timeout=600)
            elapsed = time.perf_counter() - started
            if result.returncode != 0:
                raise SystemExit(f"talos.upgrade failed:\n{result.stdout}\n{result.stderr}")
            return elapsed, upgrade_phases(day2, upgrade_seconds)
        finally:
            for api in servers:
                api.stop()

    times: dict[int, list[float]] = {1: [], 3: []}
    phases: dict[int, list[dict[str, float]]] = {1: [], 3: []}
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(repeat):
            for parallel in (1, 3):
                elapsed, phase = run(parallel, Path(scratch) / f"p{parallel}-{index}")
                times[parallel].append(elapsed)
                phases[parallel].append(phase)
    serial, parallel = statistics.median(times[1]), statistics.median(times[3])

    def result(count: int, median: float) -> dict:
        keys = phases[count][0]
        return {"median_s": median, "in_durations": median / upgrade_seconds,
                **{key: statistics.median(p[key] for p in phases[count]) for key in keys}}

    return {"upgrade_seconds_per_node": upgrade_seconds,
            "results": {"--max-parallel 1": result(1, serial), "--max-parallel 3": result(3, parallel)},
            "ratio_parallel_to_serial": parallel / serial}


def union_length(windows: list) -> float:
    """Seconds covered by at least one of the (start, end) windows."""
    total, end = 0.0, float("-inf")
    for window in sorted(windows, key=lambda w: w.start):
        if window.start > end:
            total += window.end - window.start
            end = window.end
        elif window.end > end:
            total += window.end - end
            end = window.end
    return total


def upgrade_phases(day2, upgrade_seconds: float) -> dict[str, float]:
    """From the fakes' call log, in node upgrade durations: the time some `talosctl upgrade` ran (3
    controllers one at a time + 2 batches of 3 workers = 5 with --max-parallel 3, 9 serially) and
    the span of the worker phase (ideal 2 with three at a time, 6 serially); the gates between
    nodes add the rest."""
    from tests.day2.test_rolling_upgrade import upgrade_windows

    windows = upgrade_windows(day2)
    controllers = set(day2.cluster.ips("controlplane"))
    workers = [w for w in windows if w.address not in controllers]
    span = max(w.end for w in workers) - min(w.start for w in workers)
    return {"upgrading_in_durations": union_length(windows) / upgrade_seconds,
            "worker_phase_in_durations": span / upgrade_seconds}


BENCHMARKS = {"configure": bench_configure, "startup": bench_startup, "scale": bench_scale,
              "upgrade": bench_upgrade}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="*", choices=[*BENCHMARKS, []], help="benchmarks to run (default: all)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per candidate (default 5)")
    arguments = parser.parse_args()
    report = {}
    for name in arguments.only or BENCHMARKS:
        print(f"== {name}", file=sys.stderr, flush=True)
        report[name] = BENCHMARKS[name](arguments.repeat)
        print(json.dumps(report[name], indent=2), flush=True)


if __name__ == "__main__":
    main()
