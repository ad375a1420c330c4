"""Derivations of the optional components (filled in with the component settings groups)."""

DERIVERS: list = []
