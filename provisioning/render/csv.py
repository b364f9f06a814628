"""`--output csv`: usage as one row per model per UTC day, for spreadsheets and billing scripts."""

from __future__ import annotations

import csv
from typing import IO

from provisioning.ops.usage import FIELDS, UsageReport


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def usage_csv(report: UsageReport, stream: IO[str]) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["model", "day", *FIELDS, "cost_usd"])
    for model in report.models:
        for day in model.days:
            writer.writerow(
                [model.model, day.day.isoformat(), *(getattr(day, f) for f in FIELDS), _money(model.cost(day))]
            )
