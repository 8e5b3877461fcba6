"""musicgate.teach."""
