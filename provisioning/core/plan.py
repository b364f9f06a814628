"""The Plan: the changes to make, their counts, the exit code, and the stable JSON document for bots.

`Plan.exit_code` is the one place plan exit codes come from: 0 nothing to do, 2 changes to apply,
1 the plan cannot be applied as is (a conflict with an object managed-llm does not own, or a replace or
delete of an endpoint in use without `--force-replace`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from catalog.lifecycle import Finding, PresetResolution
from provisioning.core.deployments import Resolution
from provisioning.core.diff import Action, Change, Diff
from provisioning.core.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK
from provisioning.core.kinds.kibana_connectors import ConnectorStatus, State
from provisioning.core.kinds.ownership import Lease


def worst_exit_code(codes: list[int]) -> int:
    """Combine plan exit codes of several clusters: an error (1) outranks changes (2), which outrank none (0)."""
    if EXIT_ERROR in codes:
        return EXIT_ERROR
    return EXIT_CHANGES if EXIT_CHANGES in codes else EXIT_OK


SUMMARY_ACTIONS = (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)


@dataclass(frozen=True)
class PlanOptions:
    prune: bool = False
    adopt: bool = False
    force_replace: bool = False


@dataclass(frozen=True)
class Plan:
    target: str
    diff: Diff
    options: PlanOptions = PlanOptions()
    # None when GET / was refused (it needs the `monitor` privilege): version checks were skipped.
    cluster_version: str | None = None
    # Features of the file the cluster's version lacks: the plan cannot be applied.
    refusals: tuple[str, ...] = ()
    # Kibana AI connectors the file asks for (kibana.yml's business; managed-llm only reads them).
    kibana: tuple[ConnectorStatus, ...] = ()
    # The apply lock found in the ledger (plan never takes it; it says so when another apply holds it).
    lock: Lease | None = None
    # What the catalog says about each endpoint's model today (refusals are also in `refusals`).
    lifecycle: tuple[Finding, ...] = ()
    # What each preset of the file resolved to, and what Elastic means by the same name.
    presets: tuple[PresetResolution, ...] = ()
    # The cluster's deployment and the application-profile ARN each endpoint's model is written as.
    resolution: Resolution | None = None

    def model_lines(self) -> tuple[str, ...]:
        """`endpoint llm: model us.x -> arn:...` per endpoint of the cluster's deployment (every format shows it)."""
        if self.resolution is None:
            return ()
        return tuple(
            f"deployment {self.resolution.deployment}, endpoint {m.endpoint_id}: model {m.model} -> {m.profile_arn}"
            for m in self.resolution.models
        )

    @property
    def lifecycle_warnings(self) -> tuple[Finding, ...]:
        """Legacy models, endpoints left on a model past EOL, and models the catalog does not know."""
        return tuple(f for f in self.lifecycle if f.level != "refuse")

    @property
    def changes(self) -> tuple[Change, ...]:
        return self.diff.changes

    @property
    def counts(self) -> dict[Action, int]:
        counted = Counter(c.action for c in self.changes)
        return {action: counted.get(action, 0) for action in Action}

    @property
    def blocked(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.blocked is not None)

    @property
    def conflicts(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is Action.CONFLICT)

    @property
    def ledger_changes(self) -> bool:
        return self.diff.ledger_before != self.diff.ledger_after or bool(self.diff.pending_before)

    @property
    def forgotten(self) -> tuple[str, ...]:
        """Ledger ids dropped for a reason no change shows (the endpoint no longer exists)."""
        shown = {c.id for c in self.changes if c.action is Action.DELETE}
        return tuple(sorted(self.diff.ledger_before - self.diff.ledger_after - shown))

    @property
    def ledger_notes(self) -> tuple[str, ...]:
        """What happens to pending claims (ids claimed by an apply that never saw its create answered)."""
        notes = []
        if self.diff.pending_confirmed:
            notes.append(
                f"ownership ledger: confirm {', '.join(sorted(self.diff.pending_confirmed))} "
                "(claimed by an interrupted apply; the endpoint is exactly what the file asks for)"
            )
        dropped = sorted(self.diff.pending_before - self.diff.ledger_after)
        if dropped:
            notes.append(
                f"ownership ledger: drop the pending claim on {', '.join(dropped)} "
                "(ownership undecided after an interrupted apply: the endpoint is not what the file asks for; "
                "never updated or pruned)"
            )
        return tuple(notes)

    def lock_warning(self, now: datetime) -> str | None:
        """A line for plan output when the ledger holds an apply lock (plan itself never takes it)."""
        if self.lock is None:
            return None
        shown = self.lock.to_metadata()
        who = f"({self.lock.holder}, started {shown['started']})"
        if self.lock.expired(now):
            return f"warning: a lock left by an apply {who} expired at {shown['expires']}; apply --break-lock takes it"
        return f"warning: another apply {who} holds the lock until {shown['expires']}; apply refuses to run meanwhile"

    @property
    def writes(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.CONFLICT)

    @property
    def kibana_actions(self) -> tuple[ConnectorStatus, ...]:
        return tuple(s for s in self.kibana if s.state in (State.MISSING, State.DIFFERENT))

    @property
    def has_changes(self) -> bool:
        return bool(self.writes) or self.ledger_changes or bool(self.kibana_actions)

    @property
    def exit_code(self) -> int:
        foreign = any(s.state is State.FOREIGN for s in self.kibana)
        if self.conflicts or self.blocked or self.refusals or foreign:
            return EXIT_ERROR
        return EXIT_CHANGES if self.has_changes else EXIT_OK

    def summary(self) -> str:
        counts = self.counts
        text = ", ".join(f"{counts[a]} to {a.value}" for a in SUMMARY_ACTIONS)
        extras = []
        if self.conflicts:
            extras.append(f"{len(self.conflicts)} conflict{'s' if len(self.conflicts) > 1 else ''}")
        if self.blocked:
            extras.append(f"{len(self.blocked)} blocked")
        return text + (f"; {', '.join(extras)}" if extras else "")
