"""musicgate.experiments."""
