"""ragd-lite: storage (kept empty so stage modules are imported lazily)."""
