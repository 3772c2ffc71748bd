"""ragd-lite: chat (kept empty so stage modules are imported lazily)."""
