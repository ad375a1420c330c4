"""Entry point for `inv`: the root tasks and the namespaces, one module each under tasks/.

`tasks.py` and the `tasks/` folder share a name; giving this module a `__path__` lets it act as
the package for the modules in that folder (`from tasks import template`), so invoke, which loads
`tasks.py` first, sees one tree.
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
