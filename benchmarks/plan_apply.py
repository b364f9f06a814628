"""Benchmark: requests and wall time per plan, and apply time with a slow validation call. Prints figures.

    python benchmarks/plan_apply.py                # plans for 10/100/1000 endpoints, applies for 10/100
    python benchmarks/plan_apply.py --apply-sizes 10 100 1000   # the 1000-endpoint applies take ~21 min

Plans run against the stand-in on loopback (plain HTTP) holding N endpoints and N/10 role mappings,
already converged. The baseline reads one object per request, as Terraform's provider refreshes each
resource. Applies create N endpoints from scratch while the stand-in answers each PUT after a simulated
1 s Bedrock validation call, at concurrency 1 and at the default (4).
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time
from typing import Any

from pydantic import SecretStr

from provisioning.adapters.credentials import BedrockCredentials
from provisioning.adapters.es_client import EsClient
from provisioning.adapters.settings import ConnectionSettings
from provisioning.core.apply import DEFAULT_CONCURRENCY, apply_plan
from provisioning.core.model import DesiredState
from provisioning.core.plan import PlanOptions
from provisioning.core.planning import make_plan
from provisioning.sandbox import Principal, StandinCluster, StandinServer, api_key_header

KEYS = BedrockCredentials(SecretStr("AKIABENCHMARK0000001"), SecretStr("benchmark-secret"), "benchmark")


def desired_state(n: int) -> DesiredState:
    document: dict[str, Any] = {
        "bedrock": {"region": "us-east-1"},
        "inference_endpoints": [
            {
                "id": f"llm-{i:04d}",
                "task_type": "chat_completion",
                "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "provider": "anthropic",
                "task_settings": {"max_new_tokens": 256},
            }
            for i in range(n)
        ],
        "role_mappings": [
            {"name": f"team-{i:03d}", "roles": ["inference_user"], "rules": {"field": {"groups": f"cn=team-{i}"}}}
            for i in range(max(1, n // 10))
        ],
    }
    return DesiredState.model_validate(document)


def stand_in(latency: float) -> tuple[StandinServer, EsClient]:
    cluster = StandinCluster(
        principals={api_key_header("bench", "k"): Principal("bench", frozenset({"all"}))}, validation_latency=latency
    )
    server = StandinServer(cluster)
    key = base64.b64encode(b"bench:k").decode()
    return server, EsClient(ConnectionSettings(url=server.url, api_key=SecretStr(key)))


def baseline_plan(client: EsClient, desired: DesiredState) -> None:
    """One GET per declared object (what a per-resource refresh does)."""
    for endpoint in desired.inference_endpoints:
        client.get_endpoint(endpoint.id)
    for mapping in desired.role_mappings:
        client.get_role_mapping(mapping.name)


def measure_plans(n: int, repeats: int = 5) -> dict[str, float]:
    desired = desired_state(n)
    server, client = stand_in(latency=0.0)
    try:
        apply_plan(make_plan(desired, client, PlanOptions(), server.url), desired, client, lambda: KEYS, concurrency=8)
        ours, theirs = [], []
        for _ in range(repeats):
            server.log.clear()
            began = time.perf_counter()
            plan = make_plan(desired, client, PlanOptions(), server.url)
            ours.append(time.perf_counter() - began)
            requests = len(server.log.entries)
            assert not plan.has_changes
            server.log.clear()
            began = time.perf_counter()
            baseline_plan(client, desired)
            theirs.append(time.perf_counter() - began)
            baseline_requests = len(server.log.entries)
        return {
            "objects": n + len(desired.role_mappings),
            "requests": requests,
            "seconds": statistics.median(ours),
            "baseline_requests": baseline_requests,
            "baseline_seconds": statistics.median(theirs),
        }
    finally:
        client.close()
        server.close()


def measure_apply(n: int, concurrency: int, latency: float) -> float:
    desired = desired_state(n).model_copy(update={"role_mappings": []})
    server, client = stand_in(latency)
    try:
        plan = make_plan(desired, client, PlanOptions(), server.url)
        began = time.perf_counter()
        report = apply_plan(plan, desired, client, lambda: KEYS, concurrency=concurrency)
        elapsed = time.perf_counter() - began
        assert report.exit_code == 0, report.summary()
        return elapsed
    finally:
        client.close()
        server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan-sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--apply-sizes", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--latency", type=float, default=1.0, help="simulated Bedrock validation call, seconds")
    args = parser.parse_args()

    print("plan (converged cluster; N endpoints + N/10 role mappings)")
    header = ("endpoints", "objects", "requests", "seconds", "baseline req", "baseline s", "speed-up")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (9, 8, 9, 9, 13, 11, 9), strict=True)))
    for n in args.plan_sizes:
        r = measure_plans(n)
        print(
            f"{n:>9} {r['objects']:>8.0f} {r['requests']:>9.0f} {r['seconds']:>9.3f} "
            f"{r['baseline_requests']:>13.0f} {r['baseline_seconds']:>11.3f} "
            f"{r['baseline_seconds'] / r['seconds']:>8.1f}x"
        )
    print(f"\napply (create N endpoints; each PUT answered after {args.latency:.1f} s)")
    parallel_header = f"concurrency {DEFAULT_CONCURRENCY} (s)"
    print(f"{'endpoints':>9} {'concurrency 1 (s)':>18} {parallel_header:>18} {'speed-up':>9}")
    for n in args.apply_sizes:
        serial = measure_apply(n, 1, args.latency)
        parallel = measure_apply(n, DEFAULT_CONCURRENCY, args.latency)
        print(f"{n:>9} {serial:>18.1f} {parallel:>18.1f} {serial / parallel:>8.1f}x")


if __name__ == "__main__":
    main()
