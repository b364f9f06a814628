"""An in-memory stand-in of the Elasticsearch APIs managed-llm uses (NOT Elasticsearch).

Shipped so that `managed-llm sandbox` works anywhere; the test double in `tests/doubles/` serves the
same stand-in with TLS, fault injection and request counters.
"""

from provisioning.sandbox.cluster import Principal, Request, Response, StandinCluster, api_key_header, basic_header
from provisioning.sandbox.server import StandinServer

__all__ = ["Principal", "Request", "Response", "StandinCluster", "StandinServer", "api_key_header", "basic_header"]
