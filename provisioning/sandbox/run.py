"""`managed-llm sandbox`: the real plan -> apply -> plan, against the in-memory stand-in on loopback.

For a newcomer with no cluster and no AWS account. Everything is labelled: the server is a stand-in of
the Elasticsearch APIs (not Elasticsearch), Bedrock's validation call is simulated, and the Bedrock
"credentials" are random placeholders generated for this run (never printed).
"""

from __future__ import annotations

import base64
import secrets
from typing import IO

from pydantic import SecretStr

from provisioning.adapters.credentials import BedrockCredentials
from provisioning.adapters.es_client import EsClient
from provisioning.adapters.settings import ConnectionSettings
from provisioning.core.apply import apply_plan
from provisioning.core.errors import EXIT_ERROR, EXIT_OK
from provisioning.core.model import DesiredState
from provisioning.core.plan import PlanOptions
from provisioning.core.planning import make_plan
from provisioning.render.text import apply_text, plan_text, progress_for
from provisioning.sandbox import Principal, StandinCluster, StandinServer, api_key_header

SIMULATED_BEDROCK_LATENCY = 0.3


def run_sandbox(desired: DesiredState, out: IO[str]) -> int:
    key_id, key = secrets.token_hex(8), secrets.token_urlsafe(24)
    cluster = StandinCluster(
        principals={api_key_header(key_id, key): Principal("sandbox", frozenset({"all"}))},
        validation_latency=SIMULATED_BEDROCK_LATENCY,
    )
    placeholder = BedrockCredentials(
        SecretStr("SANDBOX" + secrets.token_hex(6).upper()), SecretStr(secrets.token_urlsafe(30)), "sandbox placeholder"
    )
    with StandinServer(cluster) as server:
        out.write(
            f"Sandbox: an in-memory stand-in of the Elasticsearch APIs at {server.url}.\n"
            "It is NOT Elasticsearch: no cluster, no AWS account, nothing leaves this machine; Bedrock's\n"
            "validation call is simulated and the Bedrock credentials are random placeholders.\n\n"
        )
        settings = ConnectionSettings(
            url=server.url, api_key=SecretStr(base64.b64encode(f"{key_id}:{key}".encode()).decode())
        )
        client = EsClient(settings)
        try:
            out.write("$ managed-llm plan\n")
            first = make_plan(desired, client, PlanOptions(), settings.display_url)
            plan_text(first, out, credentials_source=placeholder.source)
            out.write("\n$ managed-llm apply\n")
            report = apply_plan(
                first, desired, client, lambda: placeholder, progress=progress_for(out, len(first.writes))
            )
            apply_text(report, out)
            out.write("\n$ managed-llm plan   # again: nothing left to do\n")
            second = make_plan(desired, client, PlanOptions(), settings.display_url)
            plan_text(second, out)
        finally:
            client.close()
        reads = sum(1 for method, _, _ in server.log.entries if method == "GET")
        out.write(
            f"\nThe stand-in answered {len(server.log.entries)} requests ({reads} GETs); "
            f"Bedrock validation calls simulated: {cluster.validation_calls}.\n"
        )
    return EXIT_OK if report.exit_code == EXIT_OK and second.exit_code == EXIT_OK else EXIT_ERROR
