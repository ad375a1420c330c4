"""Before/after in one interleaved run: `inv configure` of another checkout (the baseline, e.g. main,
with its own `.venv`) and of this one, on the same scenario, with makejinja as the yardstick.

    git worktree add /tmp/baseline main && (cd /tmp/baseline && python3 -m venv .venv \\
        && .venv/bin/pip install -e '.[bench,test]')
    .venv/bin/python bench/baseline.py /tmp/baseline --repeat 3

Candidates per checkout: a first run (outputs, state and caches removed), a one-key edit
(`cluster_gateway_addr`) and nothing changed. Prints medians, ratios to makejinja and one-key edit
to first run, and each candidate's stage medians (the baseline's stage names are its own).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import run

HERE = run.REPO


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline", type=Path, help="the other checkout (with its own .venv)")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    checkouts = {"baseline": arguments.baseline.resolve(), "this": HERE}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        candidates, roots = {}, {}
        for label, checkout in checkouts.items():
            run.REPO, run.BIN = checkout, checkout / ".venv" / "bin"
            roots[label] = run.prepare(scratch / label)
            run.inv(roots[label], "configure", "--yes")
            command = [str(run.BIN / "inv"), "configure", "--yes", "--timings"]
            root = roots[label]
            candidates[f"{label}: first run"] = (command, root, run.remove_outputs(root, state_too=True))
            candidates[f"{label}: one-key edit"] = (command, root, run.edit_gateway_address(root))
            candidates[f"{label}: nothing changed"] = (command, root, None)
        run.REPO, run.BIN = HERE, HERE / ".venv" / "bin"
        work = scratch / "mj"
        work.mkdir()
        candidates["makejinja render only"] = (run.write_makejinja_setup(roots["this"], work), work, None)
        results = run.compare(candidates, arguments.repeat)
    makejinja = results["makejinja render only"]["median_s"]
    report = {"results": results,
              "ratios_to_makejinja": {name: r["median_s"] / makejinja for name, r in results.items()},
              "one_key_edit_to_first_run": {label: results[f"{label}: one-key edit"]["median_s"]
                                            / results[f"{label}: first run"]["median_s"] for label in checkouts}}
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
