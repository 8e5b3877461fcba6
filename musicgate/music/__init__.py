"""musicgate.music."""
