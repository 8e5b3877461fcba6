"""musicgate.viz."""
