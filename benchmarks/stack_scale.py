"""The whole Pulumi program under mocks at 50 deployments x 3 models: resource count and wall time (prints;
asserts nothing).

Usage: python benchmarks/stack_scale.py [DEPLOYMENTS]   (from the repository root; default 50)

Part 1 runs `infra/` as `pulumi preview` would (no Pulumi CLI, no AWS: the recording mocks of
tests/infra/conftest.py answer every resource and lookup), so it counts what `infra/__main__.py` composes.
Part 2 composes the per-deployment monitoring and budgets directly with stand-in profile ids, so their
share is measured even where `__main__.py` does not compose them yet.
"""

from __future__ import annotations

import json
import runpy
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import settings as pulumi_settings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from infra.components.budgets import Budgets, BudgetsArgs  # noqa: E402
from infra.components.monitoring import DeploymentMonitoring, Monitoring, MonitoringArgs  # noqa: E402
from infra.config import parse_stack_config  # noqa: E402
from tests.infra.conftest import PROJECT, STACK, RecordingMocks, RecordingMonitor, scoped_to, set_config  # noqa: E402

MODELS = (
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    "us.anthropic.claude-sonnet-4-6",
)


def stack_config(deployments: int) -> dict[str, Any]:
    return {
        "models": list(MODELS),
        "deployments": [{"name": f"team-{i:03d}", "monthlyBudgetUsd": 100} for i in range(deployments)],
    }


def run_under_mocks(program: Callable[[], Any], config: dict[str, Any]) -> tuple[RecordingMocks, float]:
    """Run `program` against a fresh mock engine; return the recorded resources and the wall time."""
    mocks = RecordingMocks()
    pulumi_settings.ROOT.set(None)
    set_config(config)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=STACK, preview=True, monitor=RecordingMonitor(mocks))
    began = time.perf_counter()
    pulumi.runtime.test(program)()
    return mocks, time.perf_counter() - began


def whole_program() -> None:
    runpy.run_path(str(ROOT / "infra"), run_name="__main__")


def components(deployments: int) -> Callable[[], None]:
    def program() -> None:
        cfg = parse_stack_config({k: json.dumps(v) for k, v in stack_config(deployments).items()}, stack=STACK)
        opts = scoped_to(cfg.region)
        rows = [
            DeploymentMonitoring(
                d.name,
                d.models or (),
                {m: pulumi.Output.from_input(f"{d.name}-{n}") for n, m in enumerate(d.models or ())},
                d.monthly_budget_usd,
                d.tags,
            )
            for d in cfg.effective_deployments
        ]
        args = MonitoringArgs(cfg.region, cfg.models, cfg.resolved_prices, "key", cfg.resource_prefix, None, rows)
        monitoring = Monitoring(PROJECT, args, opts)
        Budgets(PROJECT, BudgetsArgs(cfg.resource_prefix, monitoring.budget_topic_arn, rows), opts)

    return program


def report(title: str, mocks: RecordingMocks, seconds: float) -> None:
    print(f"{title}: {len(mocks.resources)} resources in {seconds:.2f} s")
    for typ, count in sorted(Counter(r.type for r in mocks.resources).items()):
        print(f"  {count:>5}  {typ}")
    for dashboard in mocks.of_type("aws:cloudwatch/dashboard:Dashboard"):
        body = json.loads(dashboard.inputs["dashboardBody"])
        print(f"  dashboard: {len(body['widgets'])} widgets, {len(dashboard.inputs['dashboardBody'])} characters")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    print(f"{count} deployments x {len(MODELS)} models")
    report("whole program (infra/__main__.py)", *run_under_mocks(whole_program, stack_config(count)))
    report("monitoring + budgets per deployment", *run_under_mocks(components(count), stack_config(count)))


if __name__ == "__main__":
    main()
