"""profile / top / probes workflows."""
