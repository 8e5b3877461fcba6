"""musicgate.tokens."""
