"""Default values the CLI shows in `--help`, kept in a module that imports nothing so `--help` stays fast."""

# Parallel writes during apply.
DEFAULT_CONCURRENCY = 4
# Seconds an apply lock lasts unless renewed, and how long apply waits after writing it before checking it
# still holds it (provisioning/core/lock.py).
DEFAULT_TTL = 300.0
DEFAULT_SETTLE = 0.25
