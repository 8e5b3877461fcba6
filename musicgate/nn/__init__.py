"""musicgate.nn."""
