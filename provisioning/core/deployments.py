"""Which deployment a cluster belongs to, and what its endpoints' models become there.

A file names its deployment (`deployment:`, or per cluster); the stack outputs' `deployments` map gives
that deployment's application inference profiles. Each endpoint's `model` (a catalog id, or its preset's
model) is written to Elasticsearch as the profile's ARN, which the `amazonbedrock` service passes to
Bedrock unchanged as the modelId (docs/research/models-and-apis-2026-12.md §3d), so the calls are billed
and metered per deployment. Everything else (lifecycle, provider, region checks) keeps the catalog id.
Every refusal here happens before any request.

In a pipeline the file is untrusted (a pull request edits it), so the pipeline can pin each cluster's
deployment in its own environment (`MANAGED_LLM_DEPLOYMENT`, or `MANAGED_LLM_<NAME>_DEPLOYMENT` for a
cluster of `clusters:`): the file may then repeat that deployment or name none, never another one.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.deployments import DEFAULT_DEPLOYMENT, DEPLOYMENT_NAME
from catalog.models import load_catalog, parse_model_id
from provisioning.core.arns import is_application_profile_arn, profile_region
from provisioning.core.errors import ConfigError
from provisioning.core.model import ENV_NAMESPACE, DesiredState, cluster_env_prefix
from provisioning.core.stack_outputs import StackOutputs, owner_of


@dataclass(frozen=True)
class ResolvedModel:
    endpoint_id: str
    model: str  # the catalog id the checks use
    profile_arn: str  # what Elasticsearch stores as service_settings.model


@dataclass(frozen=True)
class Resolution:
    """One cluster's deployment: its name, its secret, and the ARN each endpoint is written with."""

    deployment: str
    credentials_secret_arn: str
    models: tuple[ResolvedModel, ...]

    def arn(self, endpoint_id: str) -> str | None:
        return next((m.profile_arn for m in self.models if m.endpoint_id == endpoint_id), None)


def pin_variable(cluster: str | None) -> str:
    """The environment variable that pins a cluster's deployment: per cluster of `clusters:`, or the one."""
    return f"{cluster_env_prefix(cluster)}DEPLOYMENT" if cluster is not None else f"{ENV_NAMESPACE}DEPLOYMENT"


def deployment_for(desired: DesiredState, cluster: str | None, pinned: str, file_name: str) -> str | None:
    """The deployment a cluster belongs to: the pipeline's pin (`pinned`, "" when unset), else the file's.

    A pin the file contradicts is refused: a reviewed `deployment:` change could otherwise move a cluster to
    another deployment's key and budget. Deployment names are not secrets and both are checked names.
    """
    chosen = desired.deployment_of(cluster)
    if not pinned:
        return chosen
    variable = pin_variable(cluster)
    if not DEPLOYMENT_NAME.fullmatch(pinned):
        raise ConfigError(
            f"{variable} is not a deployment name (lower-case letters, digits and '-', at most 32; "
            "the value is not shown)"
        )
    if chosen is not None and chosen != pinned:
        whose = f"cluster {cluster}" if cluster is not None else "this cluster"
        raise ConfigError(
            f"{file_name}: the file puts {whose} in deployment {chosen}, but {variable} pins it to {pinned} "
            "(the pipeline's choice: the file may repeat it or leave it out)"
        )
    return pinned


def resolve(
    desired: DesiredState, deployment: str | None, stack: StackOutputs | None, file_name: str
) -> tuple[DesiredState, Resolution | None]:
    """The file with catalog ids as models, and its deployment's resolution (None without a deployment)."""
    if deployment is None:
        for index, endpoint in enumerate(desired.inference_endpoints):
            if is_application_profile_arn(endpoint.model):
                raise ConfigError(
                    f"{file_name}: inference_endpoints[{index}].model: an application inference profile ARN "
                    "needs the file's deployment: and --stack-outputs"
                )
        others = sorted(set(stack.deployments or {}) - {DEFAULT_DEPLOYMENT}) if stack is not None else []
        if others:
            # The stack serves several deployments: a cluster that names none would fall back to whatever
            # secret the file names and to models its key cannot call. Say which to choose instead.
            raise ConfigError(
                f"{file_name}: the stack serves deployments ({', '.join(others)}): name this cluster's with "
                "deployment: (at the top, or in its clusters: entry)"
            )
        return desired, None
    if stack is None:
        raise ConfigError(
            f"{file_name}: deployment {deployment}: pass --stack-outputs (the stack's deployments output) "
            "to resolve models to the deployment's application inference profiles"
        )
    outputs = (stack.deployments or {}).get(deployment)
    if outputs is None:
        known = ", ".join(sorted(stack.deployments or {})) or "none"
        raise ConfigError(f"deployment {deployment} is not in the {stack.source} (deployments there: {known})")
    region = desired.bedrock.region if desired.bedrock is not None else None
    endpoints = []
    resolved = []
    for index, endpoint in enumerate(desired.inference_endpoints):
        where = f"{file_name}: inference_endpoints[{index}]"
        if is_application_profile_arn(endpoint.model):
            arn = endpoint.model
            owner = owner_of(stack, arn)
            if owner is None:
                raise ConfigError(f"{where}.model: not an application inference profile of any deployment")
            if owner != deployment:
                raise ConfigError(
                    f"{where}.model: deployment {owner}'s application inference profile, "
                    f"but this cluster belongs to deployment {deployment}"
                )
            model = outputs.model_of(arn) or arn
            expected = load_catalog().vendors[parse_model_id(model).vendor]
            if endpoint.provider != expected:
                raise ConfigError(f"{where}.provider: the profile serves {model}, which needs provider {expected}")
        else:
            model = endpoint.model
            found = outputs.inference_profiles.get(model)
            if found is None:
                raise ConfigError(
                    f"deployment {deployment} has no profile for {model}; "
                    "add it to the deployment's models in the stack config"
                )
            arn = found
        if region is not None and profile_region(arn) != region:
            raise ConfigError(
                f"{where}: deployment {deployment}'s profile for {model} is in {profile_region(arn)}, "
                f"not the file's bedrock.region {region}"
            )
        endpoints.append(endpoint.model_copy(update={"model": model}))
        resolved.append(ResolvedModel(endpoint.id, model, arn))
    resolution = Resolution(
        deployment, outputs.credentials_secret_arn, tuple(sorted(resolved, key=lambda m: m.endpoint_id))
    )
    return desired.model_copy(update={"inference_endpoints": endpoints}), resolution
