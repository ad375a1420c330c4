"""etcd as every controller sees it: one `talosctl etcd members --nodes <every controller>`.

Asking one controller says nothing when that one is down, and cannot show a split brain (two etcd
clusters, each with its own member list): each controller answers with the members of the etcd
it runs, so the lists are compared. talosctl prints a row per member and answering node, and only
warns about the nodes that fail while another one answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..tools.talosctl import Talosctl
from .nodes import ClusterNode


@dataclass
class EtcdView:
    """Member rows by hostname (as the first controller that lists a member reports it), and the
    hostnames each answering controller lists."""

    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen_by: dict[str, frozenset[str]] = field(default_factory=dict)  # controller name -> hostnames

    def silent(self, controllers: Sequence[ClusterNode]) -> list[str]:
        """Controllers that did not answer `etcd members`."""
        return [node.name for node in controllers if node.name not in self.seen_by]

    def disagreeing(self) -> dict[str, frozenset[str]]:
        """The controllers whose member list differs from the one most controllers report (a
        split brain, or a member that has not caught up); empty when they all agree."""
        lists = list(self.seen_by.values())
        if len(set(lists)) <= 1:
            return {}
        common = max(set(lists), key=lists.count)
        return {name: seen for name, seen in self.seen_by.items() if seen != common}


def etcd_view(talos: Talosctl, controllers: Sequence[ClusterNode]) -> EtcdView:
    """Every controller's member list; raises CommandError when none answers."""
    by_address = {node.address: node.name for node in controllers}
    rows = talos.etcd_members(",".join(by_address))
    view = EtcdView()
    seen: dict[str, set[str]] = {}
    for row in rows:
        hostname = row.get("hostname", "")
        controller = by_address.get(row.get("node", ""))
        if not hostname or controller is None:
            continue
        view.members.setdefault(hostname, row)
        seen.setdefault(controller, set()).add(hostname)
    view.seen_by = {name: frozenset(names) for name, names in seen.items()}
    return view
