"""Loading and validating `cluster.yaml` and `nodes.yaml`."""
