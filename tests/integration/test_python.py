"""Python operations (filled in with the Python layer)."""
