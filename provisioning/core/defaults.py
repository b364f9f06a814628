"""Default values the CLI shows in `--help`, kept in a module that imports nothing so `--help` stays fast."""

# Parallel writes during apply.
DEFAULT_CONCURRENCY = 4
# The most parallel writes apply sends. Every inference PUT is a master-node action
# (TransportPutInferenceModelAction) that makes one billed Bedrock validation call, from the cluster's AWS
# account and against the same per-model request quota as live traffic; past this, writes only queue on the
# elected master and spend that quota faster, while 32 already creates 200 slow endpoints in seconds.
MAX_CONCURRENCY = 32
# Seconds an apply lock lasts unless renewed, and how long apply waits after writing it before checking it
# still holds it (provisioning/core/lock.py).
DEFAULT_TTL = 300.0
DEFAULT_SETTLE = 0.25
