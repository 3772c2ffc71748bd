"""ragd-lite: ingestion (kept empty so stage modules are imported lazily)."""
