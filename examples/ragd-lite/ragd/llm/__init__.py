"""ragd-lite: llm (kept empty so stage modules are imported lazily)."""
