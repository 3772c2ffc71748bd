"""ragd-lite: search (kept empty so stage modules are imported lazily)."""
