"""The per-host agent: registers, watches its host's view, plans, reconciles."""
