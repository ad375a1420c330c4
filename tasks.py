"""Entry point for `inv`: the root tasks and the namespaces, one module each under tasks/.

`tasks.py` and the `tasks/` folder share a name (the design names both). Python imports a module
file before a folder without `__init__.py`, so invoke's `import tasks` loads this file; giving it a
`__path__` makes it the package of the modules in that folder (`from tasks import template`), so
both are one tree. A `tasks/__init__.py` would instead shadow this file. tests/foundation/
test_task_layout.py fails if invoke's loader or mypy stop reading the layout this way.
"""

from pathlib import Path

__path__ = [str(Path(__file__).with_suffix(""))]

from invoke import Collection  # noqa: E402

from tasks import bootstrap, cluster, core, infra, talos, template  # noqa: E402

ns = Collection()
ns.add_task(core.init)
ns.add_task(core.configure)
ns.add_task(core.doctor)
ns.add_task(core.validate)
ns.add_task(cluster.reconcile)
ns.add_task(cluster.status)
ns.add_collection(Collection.from_module(bootstrap))
ns.add_collection(Collection.from_module(infra))
ns.add_collection(Collection.from_module(talos))
ns.add_collection(Collection.from_module(template))
