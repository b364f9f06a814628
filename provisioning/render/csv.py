"""`--output csv`: usage as one row per group (`--by`, without `day`) per UTC day, for spreadsheets and billing
scripts. Notes (the cross-check) are not rows: the command prints them on stderr."""

from __future__ import annotations

import csv
from typing import IO

from provisioning.ops.usage import FIELDS, UsageReport


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def usage_csv(report: UsageReport, stream: IO[str]) -> None:
    dimensions = (*(d for d in report.by if d != "day"), "day")
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([*dimensions, *FIELDS, "cost_usd"])
    for group in report.groups(dimensions):
        writer.writerow([*group.key, *(group.total(f) for f in FIELDS), _money(group.cost)])
