"""ragd-lite: embedding (kept empty so stage modules are imported lazily)."""
