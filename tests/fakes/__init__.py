"""Fake talosctl, flux, helmfile and tofu executables with a simulated cluster behind them.

The executables live in `bin/`; their logic in `*_fake.py` (talosctl also uses `talos_api.py` and
`talos_resources.py`), sharing `fakestate` (the state file, its lock and the call log), `fakecli`
(cobra/pflag-style parsing, Go table printers) and `fakeyaml` (a small YAML reader/writer). Tests
use `cluster.FakeCluster` and `fixtures.fake_tools` / the `fake_tools_factory` fixture; see
README.md for the state schema and the known differences from the real tools.
"""

from .cluster import VANILLA_SCHEMATIC, Call, FakeCluster, installer_image, machine_config, read_calls
from .fixtures import BIN_DIR, FakeTools, fake_tools

__all__ = [
    "BIN_DIR", "Call", "FakeCluster", "FakeTools", "VANILLA_SCHEMATIC", "fake_tools", "installer_image",
    "machine_config", "read_calls",
]
