"""Multi-step operations: configure, bootstrap, upgrades. Each takes an Executor and returns a result."""
