"""Locations and environment knobs for ragd-lite."""

import os

ENV_DB = "RAGD_LITE_DB"


def default_db_path():
    """``--db`` > $RAGD_LITE_DB > ${XDG_CACHE_HOME:-~/.cache}/ragd-lite/index.db."""
    env = os.environ.get(ENV_DB)
    if env:
        path = env
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache")
        path = os.path.join(cache, "ragd-lite", "index.db")
    return path


def env_int(name, default=0):
    raw = os.environ.get(name, "").strip()
    value = default
    if raw:
        try:
            value = int(float(raw))
        except ValueError:
            raise SystemExit("ragd-lite: %s must be a number, got %r" % (name, raw))
    return value


def env_float(name, default=0.0):
    raw = os.environ.get(name, "").strip()
    value = default
    if raw:
        try:
            value = float(raw)
        except ValueError:
            raise SystemExit("ragd-lite: %s must be a number, got %r" % (name, raw))
    return value
