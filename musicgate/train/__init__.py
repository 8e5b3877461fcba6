"""musicgate.train.loop."""
