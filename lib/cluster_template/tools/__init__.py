"""Thin wrappers over the operator CLIs: argv builders and output parsers, run through the executor."""
