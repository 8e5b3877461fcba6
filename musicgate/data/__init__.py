"""musicgate.data."""
