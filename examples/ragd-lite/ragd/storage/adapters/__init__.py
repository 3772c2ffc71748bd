"""ragd-lite: storage.adapters (kept empty so stage modules are imported lazily)."""
