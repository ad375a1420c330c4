"""Library behind the cluster template's `inv` tasks.

Every module here returns results and raises typed errors (see `errors`); printing is left to the
tasks in `tasks/`. Heavy third-party imports happen inside the functions that need them so that
`inv --list` stays fast.
"""
