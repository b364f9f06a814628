"""Benchmark: `plan` of 5,000 endpoints + 5,000 role mappings on a converged cluster. Prints figures.

    python benchmarks/plan_scale.py [--endpoints 5000] [--mappings 5000] [--repeats 3]

The stand-in is converged first (apply, in this process), then `python -m provisioning plan -o json` runs as
a fresh process, as a pipeline runs it, with the file limits raised in its environment (the file is past the
1 MiB / 20,000-value defaults). Printed, each the median of `--repeats` runs: the plan's CPU (user + system,
start-up included) and its peak RSS, next to a bare `yaml.load(..., Loader=yaml.CSafeLoader)` of the same
file and `python -c pass`. Targets (issue 14): CPU <= 3 s, CPU <= 1.5 x (bare CSafeLoader + start-up), peak
RSS <= 120 MiB. Asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from benchmarks.parse import BARE, document  # noqa: E402
from benchmarks.plan_apply import KEYS  # noqa: E402
from provisioning.adapters.es_client import EsClient  # noqa: E402
from provisioning.adapters.file_loader import parse_document  # noqa: E402
from provisioning.adapters.settings import ConnectionSettings  # noqa: E402
from provisioning.core.apply import apply_plan  # noqa: E402
from provisioning.core.plan import PlanOptions  # noqa: E402
from provisioning.core.planning import make_plan  # noqa: E402
from provisioning.sandbox import Principal, StandinCluster, StandinServer, api_key_header  # noqa: E402

LIMITS = {"MANAGED_LLM_MAX_FILE_MIB": "8", "MANAGED_LLM_MAX_FILE_VALUES": "400000"}


def child(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """CPU seconds, peak RSS in MiB and exit code of one fresh process (its own rusage, not the parent's)."""
    code = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(u.ru_utime + u.ru_stime, u.ru_maxrss / 1024, p.returncode)\n"
    )
    out = subprocess.run(  # noqa: S603  # our own interpreter and code
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoints", type=int, default=5000)
    parser.add_argument("--mappings", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    text = document(args.endpoints, args.mappings)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "managed-llm.yaml"
        path.write_text(text, encoding="utf-8")
        os.environ.update(LIMITS)
        desired = parse_document(text, str(path))
        cluster = StandinCluster(principals={api_key_header("bench", "k"): Principal("bench", frozenset({"all"}))})
        server = StandinServer(cluster)
        key = base64.b64encode(b"bench:k").decode()
        settings = ConnectionSettings(url=server.url, api_key=SecretStr(key), connections=17)
        try:
            with EsClient(settings) as client:
                plan = make_plan(desired, client, PlanOptions(), server.url)
                report = apply_plan(plan, desired, client, lambda: KEYS, concurrency=16)
                assert report.exit_code == 0, report.summary()
            env = {**os.environ, **LIMITS, "ELASTICSEARCH_URL": server.url, "ELASTICSEARCH_API_KEY": key}
            plan_runs, bare, start = [], [], []
            for _ in range(args.repeats):  # interleaved, so machine noise spreads over all three
                plan_runs.append(
                    child([sys.executable, "-m", "provisioning", "plan", "-f", str(path), "-o", "json"], env)
                )
                bare.append(child([sys.executable, "-c", BARE, str(path)])[0])
                start.append(child([sys.executable, "-c", "pass"])[0])
        finally:
            server.close()
    cpu = statistics.median(r[0] for r in plan_runs)
    rss = statistics.median(r[1] for r in plan_runs)
    codes = sorted({r[2] for r in plan_runs})
    floor = statistics.median(bare) + statistics.median(start)
    print(f"{args.endpoints} endpoints + {args.mappings} role mappings, {len(text) / 2**20:.2f} MiB, converged")
    print(f"plan (exit {codes}): CPU {cpu:.2f} s (target <= 3 s), peak RSS {rss:.0f} MiB (target <= 120 MiB)")
    print(
        f"bare CSafeLoader parse {statistics.median(bare):.2f} s + start-up {statistics.median(start):.2f} s: "
        f"plan / (parse + start-up) = {cpu / floor:.2f} (target <= 1.5)"
    )


if __name__ == "__main__":
    main()
