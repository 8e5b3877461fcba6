"""musicgate.generation."""
