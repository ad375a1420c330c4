"""Settings groups of the optional components, one module each.

`COMPONENT_GROUPS` lists them in the order their keys appear in the documentation.
"""

COMPONENT_GROUPS: tuple[type, ...] = ()
