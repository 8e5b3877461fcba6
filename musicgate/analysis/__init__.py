"""musicgate.analysis."""
