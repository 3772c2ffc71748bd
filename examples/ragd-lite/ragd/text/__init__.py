"""ragd-lite: text (kept empty so stage modules are imported lazily)."""
