"""Benchmark: requests and wall time per plan, text rendering of a large plan, apply speed-up. Prints figures.

    python benchmarks/plan_apply.py                # every section below, ~2 min
    python benchmarks/plan_apply.py --plan-sizes 10 100 --latencies 0.005

Plans run against the stand-in on loopback (plain HTTP) holding N endpoints and N/10 role mappings,
already converged, with each request answered after a simulated network latency (5 ms and 50 ms). The
baseline reads one object per request, as Terraform's provider refreshes each resource. The text plan
of 10,000 creates shows the share of its time spent rendering (target <= 15 %). Applies create 200
endpoints while the stand-in answers each PUT after a simulated 100 ms Bedrock validation call, at
concurrency 4, 8, 16 and 32, against the ideal N x latency / concurrency (target >= 0.85 x ideal). The
apply is measured twice: with the stand-in in this process (client and server share one interpreter lock)
and with the stand-in in a child process (the median of `--apply-repeats`), as a real cluster is another
machine; the child also reports the most PUTs it had in flight at once, which is what `--concurrency` promises.
The ratio is taken on the writes (first write started to last one finished): the apply lock's settle before
them is a fixed wait no concurrency can shorten.
"""

from __future__ import annotations

import argparse
import base64
import io
import multiprocessing
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from typing import Any

from pydantic import SecretStr

from provisioning.adapters.credentials import BedrockCredentials
from provisioning.adapters.es_client import EsClient
from provisioning.adapters.settings import ConnectionSettings
from provisioning.core.apply import apply_plan
from provisioning.core.model import DesiredState
from provisioning.core.plan import PlanOptions
from provisioning.core.planning import make_plan
from provisioning.render.text import plan_text
from provisioning.sandbox import Principal, Request, Response, StandinCluster, StandinServer, api_key_header

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


def stand_in(latency: float, *, network: float = 0.0, connections: int = 10) -> tuple[StandinServer, EsClient]:
    """The stand-in with `latency` per Bedrock validation and `network` seconds before every answer."""
    cluster = StandinCluster(
        principals={api_key_header("bench", "k"): Principal("bench", frozenset({"all"}))}, validation_latency=latency
    )

    def delay(_request: Request) -> None:
        time.sleep(network)

    server = StandinServer(cluster, hook=delay if network else None)
    key = base64.b64encode(b"bench:k").decode()
    return server, EsClient(ConnectionSettings(url=server.url, api_key=SecretStr(key), connections=connections))


def baseline_plan(client: EsClient, desired: DesiredState) -> None:
    """One GET per declared object (what a per-resource refresh does)."""
    for endpoint in desired.inference_endpoints:
        client.get_endpoint(endpoint.id)
    for mapping in desired.role_mappings:
        client.get_role_mapping(mapping.name)


def measure_plans(n: int, network: float) -> dict[str, float]:
    desired = desired_state(n)
    server, client = stand_in(latency=0.0, connections=9)
    try:
        apply_plan(make_plan(desired, client, PlanOptions(), server.url), desired, client, lambda: KEYS, concurrency=8)
        server.hook = (lambda _r: time.sleep(network)) if network else None
        ours = []
        for _ in range(3):
            server.log.clear()
            began = time.perf_counter()
            plan = make_plan(desired, client, PlanOptions(), server.url)
            ours.append(time.perf_counter() - began)
            requests = len(server.log.entries)
            assert not plan.has_changes
        server.log.clear()
        began = time.perf_counter()
        baseline_plan(client, desired)
        theirs = time.perf_counter() - began
        return {
            "objects": n + len(desired.role_mappings),
            "requests": requests,
            "seconds": statistics.median(ours),
            "baseline_requests": len(server.log.entries),
            "baseline_seconds": theirs,
        }
    finally:
        client.close()
        server.close()


def measure_text_plan(n: int) -> tuple[float, float]:
    """Seconds to build the desired state and plan N creates on an empty cluster, and to render it as text."""
    server, client = stand_in(latency=0.0)
    try:
        began = time.perf_counter()
        desired = desired_state(n).model_copy(update={"role_mappings": []})
        plan = make_plan(desired, client, PlanOptions(), server.url)
        planned = time.perf_counter()
        plan_text(plan, io.StringIO())
        return planned - began, time.perf_counter() - planned
    finally:
        client.close()
        server.close()


def measure_apply(n: int, concurrency: int, latency: float) -> float:
    desired = desired_state(n).model_copy(update={"role_mappings": []})
    # As the CLI does: one connection per parallel write, plus one (the lock's renewal).
    server, client = stand_in(latency, connections=concurrency + 1)
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


class InFlight:
    """Wraps the stand-in's cluster: counts the PUTs being answered at once and keeps the peak."""

    def __init__(self, cluster: StandinCluster) -> None:
        self.cluster, self.now, self.peak = cluster, 0, 0
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        if request.method != "PUT":
            return self.cluster.handle(request)
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            return self.cluster.handle(request)
        finally:
            with self._lock:
                self.now -= 1


def _serve(latency: float, pipe: Connection) -> None:
    """Child process: a stand-in whose URL goes up the pipe; answers "peak" with the most PUTs in flight."""
    cluster = StandinCluster(
        principals={api_key_header("bench", "k"): Principal("bench", frozenset({"all"}))}, validation_latency=latency
    )
    counted = InFlight(cluster)
    with StandinServer(counted) as server:
        pipe.send(server.url)
        while pipe.recv() == "peak":
            pipe.send(counted.peak)


@contextmanager
def stand_in_process(latency: float) -> Iterator[tuple[str, Connection]]:
    """A stand-in in a child process (fork): its URL and the pipe that asks it for the in-flight peak."""
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    child = multiprocessing.get_context("fork").Process(target=_serve, args=(latency, theirs), daemon=True)
    child.start()
    try:
        yield ours.recv(), ours
    finally:
        ours.send("stop")
        child.join(timeout=10)


class WritePhase:
    """Progress that keeps when the first write started and the last one finished (the lock's wait excluded)."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0

    def started(self, change: Any) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    def finished(self, result: Any) -> None:
        self.last = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.last - (self.first if self.first is not None else self.last)


def measure_apply_remote(n: int, concurrency: int, latency: float) -> tuple[float, float, int]:
    """Seconds for the whole apply and for its writes, and the most PUTs the stand-in (apart) had at once."""
    desired = desired_state(n).model_copy(update={"role_mappings": []})
    with stand_in_process(latency) as (url, pipe):
        key = base64.b64encode(b"bench:k").decode()
        settings = ConnectionSettings(url=url, api_key=SecretStr(key), connections=concurrency + 1)
        with EsClient(settings) as client:
            plan = make_plan(desired, client, PlanOptions(), url)
            writes = WritePhase()
            began = time.perf_counter()
            report = apply_plan(plan, desired, client, lambda: KEYS, concurrency=concurrency, progress=writes)
            elapsed = time.perf_counter() - began
            assert report.exit_code == 0, report.summary()
        pipe.send("peak")
        return elapsed, writes.seconds, int(pipe.recv())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan-sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--latencies", type=float, nargs="+", default=[0.005, 0.05], help="network, seconds")
    parser.add_argument("--text-size", type=int, default=10_000)
    parser.add_argument("--apply-size", type=int, default=200)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 8, 16, 32])
    parser.add_argument("--latency", type=float, default=0.1, help="simulated Bedrock validation call, seconds")
    parser.add_argument("--apply-repeats", type=int, default=3, help="applies per concurrency, stand-in apart (median)")
    args = parser.parse_args()

    print("plan (converged cluster; N endpoints + N/10 role mappings; each request answered after the latency)")
    header = ("latency", "endpoints", "objects", "requests", "seconds", "baseline req", "baseline s", "speed-up")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (8, 9, 8, 9, 9, 13, 11, 9), strict=True)))
    for network in args.latencies:
        for n in args.plan_sizes:
            r = measure_plans(n, network)
            print(
                f"{network * 1000:>6.0f}ms {n:>9} {r['objects']:>8.0f} {r['requests']:>9.0f} {r['seconds']:>9.3f} "
                f"{r['baseline_requests']:>13.0f} {r['baseline_seconds']:>11.3f} "
                f"{r['baseline_seconds'] / r['seconds']:>8.1f}x"
            )

    planning, rendering = measure_text_plan(args.text_size)
    share = rendering / (planning + rendering)
    print(f"\ntext plan of {args.text_size} creates (empty cluster)")
    print(f"plan {planning:.2f} s, render {rendering:.3f} s: rendering {share:.1%} of the run (target <= 15 %)")

    n, latency = args.apply_size, args.latency
    print(f"\napply ({n} creates; each PUT answered after {latency * 1000:.0f} ms)")
    # The whole apply includes the lock's settle (DEFAULT_SETTLE, a fixed wait before the first write that lets a
    # racing apply's lease land); the writes are what --concurrency runs in parallel. With a fixed latency they
    # take at least ceil(N / concurrency) rounds, so the ratio to the ideal (N x latency / concurrency)
    # is at most 0.89 at 32 (200 / 32 = 6.25 rounds, 7 needed).
    print(
        f"{'concurrency':>11} {'ideal s':>8} {'one process':>12} {'stand-in apart':>15} {'writes':>8} "
        f"{'ratio':>6} {'rounds bound':>13} {'peak PUTs':>10}"
    )
    serial = n * latency
    for concurrency in args.concurrency:
        together = measure_apply(n, concurrency, latency)
        runs = [measure_apply_remote(n, concurrency, latency) for _ in range(args.apply_repeats)]
        apart = statistics.median(r[0] for r in runs)
        writes = statistics.median(r[1] for r in runs)
        peak = max(r[2] for r in runs)
        ideal = serial / concurrency
        rounds = -(-n // concurrency) * latency
        print(
            f"{concurrency:>11} {ideal:>6.2f} s {together:>10.2f} s {apart:>13.2f} s {writes:>6.2f} s "
            f"{ideal / writes:>6.2f} {ideal / rounds:>13.2f} {peak:>10}"
        )
    print("ratio: ideal / writes, stand-in apart (target >= 0.85); rounds bound: the best a fixed latency allows")


if __name__ == "__main__":
    main()
