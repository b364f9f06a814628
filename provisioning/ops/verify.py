"""`verify`: a compliance report that proves the deployment keeps its promises, one row per control.

Evidence is gathered first (AWS reads with boto3, one read of the cluster), then `evaluate` judges it
without I/O, so every control is tested with evidence that makes it fail. A control that cannot be
checked (a read was refused, a stack output is missing) FAILs: an unproven promise does not pass.
WARN and INFO rows are findings that do not fail the report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from catalog import lifecycle
from catalog.data_delivery import describe, is_known, payload_destinations, read_flags
from catalog.models import ModelIdError, is_us_region, load_catalog, parse_model_id
from provisioning.core.deployments import Resolution
from provisioning.core.diff import Action
from provisioning.core.errors import EXIT_ERROR, EXIT_OK, ManagedLlmError
from provisioning.core.kinds import inference_endpoints as endpoints
from provisioning.core.kinds import role_mappings as mappings
from provisioning.core.kinds.inference_endpoints import EndpointSpec
from provisioning.core.model import DesiredState
from provisioning.core.plan import PlanOptions
from provisioning.core.planning import ClusterState, plan_from_state
from provisioning.core.stack_outputs import StackOutputs
from provisioning.ops import invocation_logs
from provisioning.ops.invocation_logs import body_fields, invocation_records

INVOKE_ACTIONS = frozenset({"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"})
PROFILE_CONDITION_KEY = "bedrock:InferenceProfileArn"
_BEDROCK_ARN = re.compile(r"^arn:aws:bedrock:(?P<region>[a-z0-9-]+):(?P<account>\d*):(?P<kind>[a-z-]+)/(?P<id>.+)$")

Failure = ManagedLlmError  # a read that failed is evidence too


class Status(StrEnum):
    PASS = "PASS"  # noqa: S105 (a verdict, not a password)
    FAIL = "FAIL"
    WARN = "WARN"
    INFO = "INFO"


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    status: Status
    evidence: str


@dataclass(frozen=True)
class Evidence:
    desired: DesiredState
    stack: StackOutputs
    logging_config: Mapping[str, Any] | Failure | None
    log_group: Mapping[str, Any] | Failure | None
    recent_events: Sequence[Mapping[str, Any]] | Failure
    principal_documents: Sequence[tuple[str, Mapping[str, Any]]] | Failure | None
    cluster: ClusterState | Failure
    es_url: str
    ca_certs: str | None
    # The verified cluster's deployment (None: the file names none) and, per deployment of the stack
    # outputs, its principal's policies and its budget (None: no budget of that name).
    resolution: Resolution | None = None
    deployment_documents: Mapping[str, Sequence[tuple[str, Mapping[str, Any]]] | Failure] = field(default_factory=dict)
    budgets: Mapping[str, Mapping[str, Any] | Failure | None] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifyReport:
    controls: tuple[Control, ...]

    @property
    def exit_code(self) -> int:
        return EXIT_ERROR if any(c.status is Status.FAIL for c in self.controls) else EXIT_OK

    def summary(self) -> str:
        counts = {s: sum(1 for c in self.controls if c.status is s) for s in Status}
        return ", ".join(f"{counts[s]} {s.value}" for s in Status)


def evaluate(evidence: Evidence) -> VerifyReport:
    controls = [
        *_logging_controls(evidence),
        *_log_group_controls(evidence),
        _no_bodies(evidence),
        _principal(evidence),
        *_deployment_controls(evidence),
        *_cluster_controls(evidence),
        _model_lifecycle(evidence),
        _transport(evidence),
    ]
    return VerifyReport(tuple(controls))


def log_group_name(evidence: Evidence) -> str | None:
    """The group the stack declares, else the one Bedrock's logging configuration names."""
    return invocation_logs.log_group_name(evidence.stack.log_group_name, evidence.logging_config)


def _failing(titles: Mapping[str, str], evidence: str) -> list[Control]:
    """Every control of a group FAILs with the same evidence (its input could not be read or is missing)."""
    return [Control(control_id, title, Status.FAIL, evidence) for control_id, title in titles.items()]


def _check(control_id: str, title: str, problems: Sequence[str], passed: str) -> Control:
    """PASS with `passed` when nothing is wrong, else FAIL listing every problem."""
    if problems:
        return Control(control_id, title, Status.FAIL, "; ".join(problems))
    return Control(control_id, title, Status.PASS, passed)


# ------------------------------------------------------------------------------------------ AWS


def _logging_controls(evidence: Evidence) -> list[Control]:
    region = evidence.stack.region
    config = evidence.logging_config
    titles = {
        "aws.logging.on": f"Bedrock invocation logging is on in {region}",
        "aws.logging.metadata_only": "Every data delivery flag is off (text, image, embedding, video, audio, unknown)",
        "aws.logging.cloudwatch_only": "CloudWatch Logs is the only destination",
    }
    if isinstance(config, Failure):
        return _failing(titles, f"cannot check: {config.message}")
    if not config:
        return _failing(titles, f"no invocation logging configuration in {region}")
    cloudwatch = config.get("cloudWatchConfig") or {}
    on = Control(
        "aws.logging.on",
        titles["aws.logging.on"],
        Status.PASS if cloudwatch.get("logGroupName") else Status.FAIL,
        f"log group {cloudwatch.get('logGroupName') or '(none)'}, role {cloudwatch.get('roleArn') or '(none)'}",
    )
    metadata_only = Control(
        "aws.logging.metadata_only", titles["aws.logging.metadata_only"], *_delivery_flags_verdict(config)
    )
    extra = payload_destinations(config)
    only = Control(
        "aws.logging.cloudwatch_only",
        titles["aws.logging.cloudwatch_only"],
        Status.FAIL if extra or not cloudwatch else Status.PASS,
        f"also delivering to {', '.join(extra)}" if extra else "CloudWatch only, no S3 destination",
    )
    return [on, metadata_only, only]


def _delivery_flags_verdict(config: Mapping[str, Any]) -> tuple[Status, str]:
    """FAIL on any `*DataDeliveryEnabled` key that is not false, known or not, and on a known flag AWS's
    answer leaves out (absent is not off); the evidence lists every flag AWS returned."""
    flags = read_flags(config)
    problems = [
        describe(key, value) + ("" if is_known(key) else " (a flag this tool does not know: denied by default)")
        for key, value in flags.not_off
    ]
    if flags.absent:
        problems.append(f"absent from AWS's answer, so not proven off: {', '.join(flags.absent)}")
    returned = ", ".join(describe(key, value) for key, value in flags.values) or "none"
    if problems:
        return Status.FAIL, f"{'; '.join(problems)}; AWS returned: {returned}"
    return Status.PASS, f"AWS returned: {returned}"


def _log_group_controls(evidence: Evidence) -> list[Control]:
    expected = log_group_name(evidence)
    group = evidence.log_group
    titles = {
        "aws.logs.group": "The invocation log group exists and is the one logging writes to",
        "aws.logs.kms": "The log group is encrypted with a KMS key",
        "aws.logs.retention": "The log group has a retention period",
    }
    if expected is None:
        return _failing(titles, "no log group known (pass --stack-outputs)")
    if isinstance(group, Failure):
        return _failing(titles, f"cannot check: {group.message}")
    if group is None:
        return _failing(titles, f"log group {expected} does not exist")
    config = evidence.logging_config
    configured = (config.get("cloudWatchConfig") or {}).get("logGroupName") if isinstance(config, Mapping) else None
    same = configured in (None, expected)
    exists = Control(
        "aws.logs.group",
        titles["aws.logs.group"],
        Status.PASS if same else Status.FAIL,
        f"{expected} exists" + ("" if same else f", but Bedrock logs to {configured}"),
    )
    key = group.get("kmsKeyId")
    wanted_key = evidence.stack.kms_key_arn
    key_ok = bool(key) and (wanted_key is None or key == wanted_key)
    kms = Control(
        "aws.logs.kms",
        titles["aws.logs.kms"],
        Status.PASS if key_ok else Status.FAIL,
        f"kmsKeyId {key}" if key_ok else (f"kmsKeyId {key}, expected {wanted_key}" if key else "no KMS key"),
    )
    days = group.get("retentionInDays")
    retention = Control(
        "aws.logs.retention",
        titles["aws.logs.retention"],
        Status.PASS if days else Status.FAIL,
        f"{days} days" if days else "never expires",
    )
    return [exists, kms, retention]


def _no_bodies(evidence: Evidence) -> Control:
    title = "Recent invocation records hold metadata only (no prompt or output)"
    events = evidence.recent_events
    if isinstance(events, Failure):
        return Control("aws.logs.no_bodies", title, Status.FAIL, f"cannot check: {events.message}")
    leaking = [fields for record in invocation_records(events) if (fields := body_fields(record))]
    found = ", ".join(sorted({field for fields in leaking for field in fields}))
    return Control(
        "aws.logs.no_bodies",
        title,
        Status.FAIL if leaking else Status.PASS,
        f"{len(leaking)} of {len(events)} recent records carry a body ({found})"
        if leaking
        else f"{len(events)} recent records, none with a body",
    )


def _principal(evidence: Evidence) -> Control:
    title = "The Elasticsearch principal may only invoke the stack's models"
    documents = evidence.principal_documents
    arn, models = evidence.stack.elasticsearch_principal_arn, evidence.stack.models
    if arn is None or models is None:
        return Control("aws.iam.invoke_only", title, Status.FAIL, "needs --stack-outputs (principal and models)")
    if isinstance(documents, Failure):
        return Control("aws.iam.invoke_only", title, Status.FAIL, f"cannot check: {documents.message}")
    problems = principal_problems(documents or (), models, account=arn.split(":")[4])
    if not documents:
        problems.append("no policy grants anything")
    return _check(
        "aws.iam.invoke_only", title, problems, f"{len(documents or ())} policies: invoke only, on {len(models)} models"
    )


def principal_problems(
    documents: Sequence[tuple[str, Mapping[str, Any]]], models: Sequence[str], account: str
) -> list[str]:
    """Every way the principal's Allow statements exceed invoke-only on the allow-listed models."""
    profiles, foundation, via_profile = set(), set(), set()
    for model in models:
        try:
            parsed = parse_model_id(model)
        except ModelIdError:
            continue
        if parsed.via_us_profile:
            profiles.add(model)
            via_profile.add(parsed.foundation_model_id)
        else:
            foundation.add(parsed.foundation_model_id)
    problems: list[str] = []
    for source, document in documents:
        for index, statement in enumerate(_statements(document)):
            where = f"{source} statement {statement.get('Sid') or index}"
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement or "NotResource" in statement:
                problems.append(f"{where}: NotAction/NotResource grants too much")
                continue
            actions = set(_as_list(statement.get("Action")))
            if extra := sorted(actions - INVOKE_ACTIONS):
                problems.append(f"{where}: actions beyond invoke: {', '.join(extra)}")
            conditioned = PROFILE_CONDITION_KEY in str(statement.get("Condition") or {})
            for resource in _as_list(statement.get("Resource")):
                problem = _resource_problem(resource, profiles, foundation, via_profile, conditioned, account)
                if problem:
                    problems.append(f"{where}: {problem}")
    return problems


def _resource_problem(
    resource: str, profiles: set[str], foundation: set[str], via_profile: set[str], conditioned: bool, account: str
) -> str | None:
    if "*" in resource or "?" in resource:
        return f"wildcard resource {resource}"
    match = _BEDROCK_ARN.fullmatch(resource)
    if match is None:
        return f"not a Bedrock model ARN: {resource}"
    region, kind, model = match["region"], match["kind"], match["id"]
    if not is_us_region(region):
        return f"region {region} is outside the US: {resource}"
    if kind == "inference-profile":
        if model not in profiles or match["account"] != account:
            return f"inference profile not allow-listed: {resource}"
        return None
    if kind != "foundation-model":
        return f"{kind} is not a model the stack allows: {resource}"
    if model in foundation:
        return None
    if model in via_profile:
        return (
            None
            if conditioned
            else f"{model} is reachable without its inference profile (no {PROFILE_CONDITION_KEY} condition)"
        )
    return f"model not allow-listed: {resource}"


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document.get("Statement") or []
    return [statements] if isinstance(statements, Mapping) else list(statements)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


# ------------------------------------------------------------------------------------------ deployments


def _deployment_controls(evidence: Evidence) -> list[Control]:
    """Only for a stack with a `deployments` output (older stacks have one principal, checked above)."""
    if not evidence.stack.deployments:
        return []
    return [_own_profiles_only(evidence), _endpoints_own_deployment(evidence), _budgets_exist(evidence)]


def _own_profiles_only(evidence: Evidence) -> Control:
    title = "Each deployment's principal may invoke only its own application inference profiles"
    deployments = evidence.stack.deployments or {}
    owners = {arn: name for name, d in deployments.items() for arn in d.inference_profiles.values()}
    problems: list[str] = []
    for name in sorted(deployments):
        documents = evidence.deployment_documents.get(name)
        if documents is None:
            problems.append(f"{name}: its principal's policies were not read")
        elif isinstance(documents, Failure):
            problems.append(f"{name}: cannot check: {documents.message}")
        else:
            own = set(deployments[name].inference_profiles.values())
            problems += [f"{name}: {p}" for p in own_profile_problems(documents, own, owners)]
    return _check("aws.deployments.own_profiles", title, problems, f"{len(deployments)} deployments checked")


def own_profile_problems(
    documents: Sequence[tuple[str, Mapping[str, Any]]], own: set[str], owners: Mapping[str, str]
) -> list[str]:
    """Every Allow statement that reaches beyond the deployment's own profiles: another deployment's profile
    (as a resource or in the condition), or a `us.` system profile or foundation model without the
    `bedrock:InferenceProfileArn` condition that limits it to calls through the deployment's profiles."""
    problems: list[str] = []
    for source, document in documents:
        for index, statement in enumerate(_statements(document)):
            if statement.get("Effect") != "Allow":
                continue
            where = f"{source} statement {statement.get('Sid') or index}"
            allowed = _condition_values(statement.get("Condition"), PROFILE_CONDITION_KEY)
            for value in sorted(set(allowed) - own):
                owner = owners.get(value)
                problems.append(f"{where}: condition allows {f'deployment {owner} profile ' if owner else ''}{value}")
            for resource in _as_list(statement.get("Resource")):
                match = _BEDROCK_ARN.fullmatch(resource)
                kind = match["kind"] if match else None
                if "*" in resource:
                    problems.append(f"{where}: wildcard resource {resource}")
                elif kind == "application-inference-profile" and resource not in own:
                    owner = owners.get(resource)
                    problems.append(
                        f"{where}: {f'deployment {owner} profile' if owner else 'foreign profile'} {resource}"
                    )
                elif kind in ("inference-profile", "foundation-model") and not allowed:
                    problems.append(f"{where}: {resource} without the {PROFILE_CONDITION_KEY} condition")
    return problems


def _condition_values(condition: Any, key: str) -> list[str]:
    """Values any operator of a Condition block gives `key` (ArnEquals, ArnLike, StringEquals...)."""
    if not isinstance(condition, Mapping):
        return []
    return [v for block in condition.values() if isinstance(block, Mapping) for v in _as_list(block.get(key))]


def _endpoints_own_deployment(evidence: Evidence) -> Control:
    control_id = "es.endpoints.deployment"
    title = "Each endpoint of the file uses an application inference profile of its own deployment"
    resolution, deployments = evidence.resolution, evidence.stack.deployments or {}
    if resolution is None:
        return Control(control_id, title, Status.INFO, "the file names no deployment")
    if isinstance(evidence.cluster, Failure):
        return Control(control_id, title, Status.FAIL, f"cannot check: {evidence.cluster.message}")
    own = set(deployments[resolution.deployment].inference_profiles.values())
    owners = {arn: name for name, d in deployments.items() for arn in d.inference_profiles.values()}
    declared = {e.id for e in evidence.desired.inference_endpoints}
    problems = []
    for body in evidence.cluster.endpoints:
        spec = endpoints.normalize(body)
        model = str(spec.get("service_settings.model"))
        if spec.id in declared and model not in own:
            owner = owners.get(model)
            problems.append(f"{spec.id}: {f'deployment {owner} profile ' if owner else ''}{model}")
    return _check(control_id, title, problems, f"deployment {resolution.deployment}: {len(declared)} endpoints")


def _budgets_exist(evidence: Evidence) -> Control:
    title = "A budget exists for every deployment that configures one"
    problems, found = [], []
    for name, outputs in sorted((evidence.stack.deployments or {}).items()):
        if outputs.budget_name is None:
            continue
        budget = evidence.budgets.get(name)
        if isinstance(budget, Failure):
            problems.append(f"{name}: cannot check: {budget.message}")
        elif budget is None:
            problems.append(f"{name}: no budget {outputs.budget_name}")
        else:
            found.append(outputs.budget_name)
    return _check("aws.deployments.budgets", title, problems, f"{len(found)} budgets: {', '.join(found) or 'none'}")


# ------------------------------------------------------------------------------------------ Elasticsearch


def _cluster_titles(region: str | None) -> dict[str, str]:
    return {
        "es.endpoints.match": "Every inference endpoint in the file exists and matches",
        "es.endpoints.region": f"Endpoints call Bedrock in the stack's US region ({region})",
        "es.endpoints.model": "Endpoints use only models the stack allows",
        "es.role_mappings.match": "Every role mapping in the file exists and matches",
        "es.inference_admin.grants": "inference_admin is granted only through the file's mappings",
    }


@dataclass(frozen=True)
class _ClusterView:
    """What the Elasticsearch controls judge: one plan's drift, and the file's endpoints found in the cluster."""

    evidence: Evidence
    state: ClusterState
    titles: Mapping[str, str]
    drift: Mapping[str, list[str]]
    declared: frozenset[str]
    present: tuple[EndpointSpec, ...]

    @classmethod
    def read(cls, evidence: Evidence, state: ClusterState) -> _ClusterView:
        plan = plan_from_state(evidence.desired, state, PlanOptions(), evidence.es_url, resolution=evidence.resolution)
        drift = {
            kind: [
                f"{c.id} ({c.action.value})" for c in plan.changes if c.kind == kind and c.action is not Action.DELETE
            ]
            for kind in (endpoints.KIND, mappings.KIND)
        }
        declared = frozenset(e.id for e in evidence.desired.inference_endpoints)
        actual = {str(b.get("inference_id")): endpoints.normalize(b) for b in state.endpoints}
        present = tuple(actual[i] for i in sorted(declared) if i in actual)
        return cls(evidence, state, _cluster_titles(evidence.stack.region), drift, declared, present)

    def check(self, control_id: str, problems: Sequence[str], passed: str) -> Control:
        return _check(control_id, self.titles[control_id], problems, passed)


def _cluster_controls(evidence: Evidence) -> list[Control]:
    if isinstance(evidence.cluster, Failure):
        return _failing(_cluster_titles(evidence.stack.region), f"cannot check: {evidence.cluster.message}")
    view = _ClusterView.read(evidence, evidence.cluster)
    return [control(view) for control in _CLUSTER_CONTROLS]


def _endpoints_match(view: _ClusterView) -> Control:
    return view.check("es.endpoints.match", view.drift[endpoints.KIND], f"{len(view.declared)} endpoints match")


def _endpoints_region(view: _ClusterView) -> Control:
    region = view.evidence.stack.region
    allowed = set(load_catalog().regions.allowed)
    wrong = [
        f"{s.id}: {s.get('service_settings.region')}"
        for s in view.present
        if s.get("service_settings.region") != region or s.get("service_settings.region") not in allowed
    ]
    return view.check("es.endpoints.region", wrong, f"{len(view.present)} endpoints in {region}")


def _endpoints_model(view: _ClusterView) -> Control:
    stack = view.evidence.stack
    if stack.models is None:
        return view.check("es.endpoints.model", ["needs --stack-outputs (models)"], "")
    # A deployment's application profiles serve only allow-listed models (core/deployments.py).
    models = {*stack.models, *(a for d in (stack.deployments or {}).values() for a in d.inference_profiles.values())}
    outside = [
        f"{s.id}: {s.get('service_settings.model')}"
        for s in view.present
        if s.get("service_settings.model") not in models
    ]
    return view.check("es.endpoints.model", outside, f"{len(view.present)} endpoints on allow-listed models")


def _role_mappings_match(view: _ClusterView) -> Control:
    declared = len(view.evidence.desired.role_mappings)
    return view.check("es.role_mappings.match", view.drift[mappings.KIND], f"{declared} role mappings match")


def _inference_admin_grants(view: _ClusterView) -> Control:
    """A grant outside the file is a finding (INFO), not a failure: break-glass mappings are legitimate."""
    declared = {m.name for m in view.evidence.desired.role_mappings}
    elsewhere = sorted(
        name
        for name, body in view.state.role_mappings.items()
        if name not in declared and body.get("enabled", True) and "inference_admin" in (body.get("roles") or [])
    )
    control_id = "es.inference_admin.grants"
    if elsewhere:
        return Control(control_id, view.titles[control_id], Status.INFO, f"also granted by: {', '.join(elsewhere)}")
    return Control(control_id, view.titles[control_id], Status.PASS, "only the file's mappings grant it")


_CLUSTER_CONTROLS: tuple[Callable[[_ClusterView], Control], ...] = (
    _endpoints_match,
    _endpoints_region,
    _endpoints_model,
    _role_mappings_match,
    _inference_admin_grants,
)


def _model_lifecycle(evidence: Evidence) -> Control:
    """Bedrock refuses every call to a model past its EOL date: an endpoint on one is broken, and allowing one
    grants nothing. Judged on today's date against the shipped catalog; Legacy models are listed with dates."""
    control_id = "models.lifecycle"
    title = "No endpoint and no allow-listed model is past EOL; Legacy ones are listed with dates"
    catalog, today = load_catalog(), lifecycle.today()
    declared = {e.id: e.model for e in evidence.desired.inference_endpoints}
    if isinstance(evidence.cluster, Failure):
        return Control(control_id, title, Status.FAIL, f"cannot check: {evidence.cluster.message}")
    in_cluster = {str(b.get("inference_id")): endpoints.normalize(b) for b in evidence.cluster.endpoints}
    # What the endpoint really calls when it exists (an application profile: the model it serves), else
    # what the file asks for.
    serves = {a: m for d in (evidence.stack.deployments or {}).values() for m, a in d.inference_profiles.items()}
    used = [
        (f"endpoint {i}", str(in_cluster[i].get("service_settings.model")) if i in in_cluster else model)
        for i, model in sorted(declared.items())
    ]
    used = [(where, serves.get(model, model)) for where, model in used]
    if evidence.stack.models is None:
        return Control(control_id, title, Status.FAIL, "needs --stack-outputs (models) to check the allow-list")
    used += [("allow-list", model) for model in evidence.stack.models]
    found = [(where, lifecycle.assess(model, catalog, today)) for where, model in used]
    past = [f"{where}: {seen.describe()}" for where, seen in found if seen.state == "EOL"]
    legacy = [f"{where}: {seen.describe()}" for where, seen in found if seen.state == "LEGACY"]
    unknown = sorted({seen.model for _, seen in found if seen.state == "UNKNOWN"})
    notes = [f"{', '.join(unknown)}: {lifecycle.UNKNOWN_HINT}"] if unknown else []
    if past or legacy:
        status = Status.FAIL if past else Status.WARN
        return Control(control_id, title, status, "; ".join([*past, *legacy, *notes]))
    checked = f"{len(found)} models checked on {today.isoformat()}, none Legacy or past EOL"
    return Control(control_id, title, Status.PASS, "; ".join([checked, *notes]))


def _transport(evidence: Evidence) -> Control:
    title = "Elasticsearch is reached over HTTPS with certificate verification"
    if evidence.es_url.startswith("https://"):
        trust = f"CA {evidence.ca_certs}" if evidence.ca_certs else "system trust store"
        return Control("transport.tls", title, Status.PASS, f"https, certificates verified against the {trust}")
    return Control("transport.tls", title, Status.WARN, f"{evidence.es_url} is plain http: traffic is not encrypted")
