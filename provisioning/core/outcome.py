"""What one command did on each of a file's clusters, and the combined verdict: plain data for rendering."""

from __future__ import annotations

from dataclasses import dataclass

from provisioning.core.apply import ApplyReport
from provisioning.core.plan import Plan


@dataclass(frozen=True)
class Applied:
    """`apply`'s result: the plan it worked from and what it did (the JSON document carries both)."""

    plan: Plan
    report: ApplyReport


@dataclass(frozen=True)
class ClusterOutcome:
    """One cluster's result; `output` is what its command printed (buffered when clusters run in parallel)."""

    name: str | None
    exit_code: int
    plan: Plan | None = None
    report: ApplyReport | None = None
    error: str | None = None
    output: str = ""


@dataclass(frozen=True)
class Clusters:
    """Several clusters' outcomes in file order and the exit code they combine into."""

    outcomes: tuple[ClusterOutcome, ...]
    exit_code: int
