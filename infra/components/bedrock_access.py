"""Each deployment's principal: an IAM user that may invoke only its own application inference profiles.

Elasticsearch's `amazonbedrock` service signs with a static access key and no session token, so the
principal must be an IAM user (elastic/elasticsearch AmazonBedrockInferenceClient.java builds
AwsBasicCredentials from the key pair only). Its key lives only in a
KMS-encrypted Secrets Manager secret; the stack exports the secret's ARN, never its value.

Every deployment gets, per model, an application inference profile copied from the `us.` system profile
(or from the foundation model for an in-region id). Calls through it are billed with its tags and counted
under its own id in CloudWatch, and the deployment's policy allows nothing else, so one deployment's key
cannot call another's profiles (docs/research/many-deployments-2026-12.md §1, §4, §5d).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import monitor_supports_feature

from catalog.deployments import DEFAULT_DEPLOYMENT
from catalog.models import parse_model_id
from infra.config import DEPLOYMENT_TAG, StackConfig
from infra.constants import COMPONENT_PREFIX, PROJECT
from infra.policies import (
    ModelGrant,
    checked_routes,
    deployment_invoke_policy,
    foundation_model_arn,
    in_region_grant,
    profile_grant,
)

# CreateInferenceProfile's name: 1-64 characters matching `([0-9a-zA-Z][ _-]?)+` (botocore bedrock
# service-2.json, InferenceProfileName; docs/research/many-deployments-2026-12.md §3).
MAX_PROFILE_NAME = 64
_PROFILE_NAME = re.compile(r"(?:[0-9a-zA-Z][ _-]?)+")
_DIGEST_CHARS = 8


@dataclass(frozen=True)
class SystemProfile:
    """A `us.` system profile as Bedrock describes it: its ARN, and the models it routes to (checked)."""

    arn: str
    routes: tuple[str, ...]


class SystemProfiles:
    """GetInferenceProfile of each `us.` profile, read once per stack however many deployments copy it.

    The destination regions depend on the model and the source region, so they are read from Bedrock at
    deploy time rather than hard-coded
    (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html).
    """

    def __init__(self, opts: pulumi.InvokeOutputOptions) -> None:
        self._opts = opts
        self._read: dict[str, pulumi.Output[SystemProfile]] = {}

    def get(self, model: str) -> pulumi.Output[SystemProfile]:
        if model not in self._read:
            parsed = parse_model_id(model)
            found = aws.bedrock.get_inference_profile_output(inference_profile_id=model, opts=self._opts)
            self._read[model] = found.apply(
                lambda p: SystemProfile(
                    p.inference_profile_arn,
                    checked_routes(model, parsed.foundation_model_id, [m.model_arn for m in p.models]),
                )
            )
        return self._read[model]


@dataclass(frozen=True)
class BedrockAccessArgs:
    region: str
    models: Sequence[str]
    kms_key_arn: pulumi.Input[str]
    credentials_generation: int
    deployment: str = DEFAULT_DEPLOYMENT
    # The deployment's own tags; every taggable resource also carries `managed-llm:deployment=<name>`.
    tags: Mapping[str, str] = field(default_factory=dict)
    # Account-unique prefix of physical names (StackConfig.resource_prefix): two stacks in one account differ.
    name_prefix: str = PROJECT
    # Shared lookups of the `us.` profiles; None: this component reads its own.
    system_profiles: SystemProfiles | None = None
    # A stack without `deployments` behaves as before deployments existed: its one principal keeps its grants
    # on the `us.` system profiles (and in-region models) besides its new application profiles, so the
    # endpoints Elasticsearch already has keep working after `pulumi up`. Configuring `deployments` is the
    # explicit step that limits every key to its own profiles (docs/aws-stack.md, "Many deployments").
    keep_system_profile_grants: bool = False


def access_name(deployment: str) -> str:
    """The component's name. `default` keeps the name the stack used before deployments existed, so an
    upgraded stack keeps every URN (nothing is replaced)."""
    return PROJECT if deployment == DEFAULT_DEPLOYMENT else f"{PROJECT}-{deployment}"


def profile_name(name_prefix: str, deployment: str, model: str) -> str:
    """The application profile's name: readable, within Bedrock's pattern and 64 characters, and unique per
    (stack, deployment, model) thanks to a digest of all three (the readable part may be truncated).

    Changing it replaces the profile (a new ARN), so it depends only on what identifies the profile."""
    digest = hashlib.sha256(f"{name_prefix}\n{deployment}\n{model}".encode()).hexdigest()[:_DIGEST_CHARS]
    readable = re.sub(r"[^0-9A-Za-z]+", "-", f"{name_prefix}-{deployment}-{model.removeprefix('us.')}").strip("-")
    return f"{readable[: MAX_PROFILE_NAME - _DIGEST_CHARS - 1].rstrip('-')}-{digest}"


def model_slug(model: str) -> str:
    """A logical-name fragment for a model id: `us.anthropic.claude-sonnet-4-6` -> `us-anthropic-claude-sonnet-4-6`."""
    return re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")


def key_slots(generation: int) -> dict[int, int]:
    """Which generation of access key each of the user's two key slots holds (slot = generation % 2).

    Bumping the generation replaces only the slot holding generation N-1, so the key Elasticsearch uses
    now (N) stays valid until the next bump: new key before old key, and never more than the two keys
    IAM allows per user. The replaced slot is deleted before it is re-created for the same reason.
    """
    if generation < 1:
        raise ValueError("the credentials generation starts at 1")
    slots = {generation % 2: generation}
    if generation > 1:
        slots[(generation - 1) % 2] = generation - 1
    return slots


def _secret_json(value: dict[str, pulumi.Output[str]]) -> pulumi.Output[str]:
    """JSON of `value`, marked secret whatever the secrecy of its parts, so state and logs never show it."""
    text: pulumi.Output[str] = pulumi.Output.json_dumps(value)
    return pulumi.Output.secret(text)


class BedrockAccess(pulumi.ComponentResource):
    """One deployment: IAM user + managed invoke policy + rotating access keys + the secret holding the
    current key + one application inference profile per model."""

    user: aws.iam.User
    policy: aws.iam.Policy
    access_keys: dict[int, aws.iam.AccessKey]
    secret: aws.secretsmanager.Secret
    secret_version: aws.secretsmanager.SecretVersion
    profiles: dict[str, aws.bedrock.InferenceProfile]
    principal_arn: pulumi.Output[str]
    credentials_secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: BedrockAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_REPLACEMENT_TRIGGER):
            # An older engine would ignore replacement_trigger: "rotation" would then put an old key back
            # into the secret. Refuse before declaring anything.
            raise pulumi.RunError(
                "key rotation needs a Pulumi CLI that supports replacement triggers; upgrade the Pulumi CLI"
            )
        slugs = [model_slug(m) for m in args.models]
        if len(set(slugs)) != len(slugs):
            raise pulumi.RunError(f"deployment {args.deployment}: two model ids differ only in punctuation")
        super().__init__(f"{COMPONENT_PREFIX}:BedrockAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {DEPLOYMENT_TAG: args.deployment, **args.tags}
        lookups = args.system_profiles or SystemProfiles(pulumi.InvokeOutputOptions(parent=self))

        self.user = aws.iam.User(f"{name}-user", path="/managed-llm/", tags=tags, opts=child)
        self.profiles = {}
        grants = [grant for model in args.models for grant in self._profile(name, model, args, lookups, tags)]
        legacy = args.keep_system_profile_grants
        # A managed policy (6,144 characters) rather than an inline one: a user's inline policies share 2,048.
        self.policy = aws.iam.Policy(
            f"{name}-invoke-policy",
            path="/managed-llm/",
            description="managed-llm: invoke the allow-listed Bedrock models only",
            policy=pulumi.Output.all(*grants).apply(
                lambda gs: json.dumps(deployment_invoke_policy(gs, allow_system_profiles=legacy))
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.UserPolicyAttachment(
            f"{name}-invoke-policy-attachment", user=self.user.name, policy_arn=self.policy.arn, opts=child
        )

        self.access_keys = {
            slot: aws.iam.AccessKey(
                f"{name}-access-key-{slot}",
                user=self.user.name,
                opts=pulumi.ResourceOptions(parent=self, replacement_trigger=generation, delete_before_replace=True),
            )
            for slot, generation in sorted(key_slots(args.credentials_generation).items())
        }
        current = self.access_keys[args.credentials_generation % 2]

        self.secret = aws.secretsmanager.Secret(
            f"{name}-credentials",
            description="managed-llm: access key Elasticsearch uses for Amazon Bedrock",
            kms_key_id=args.kms_key_arn,
            recovery_window_in_days=7,
            tags=tags,
            opts=child,
        )
        self.secret_version = aws.secretsmanager.SecretVersion(
            f"{name}-credentials-version",
            secret_id=self.secret.id,
            secret_string=_secret_json({"access_key_id": current.id, "secret_access_key": current.secret}),
            opts=child,
        )
        self.principal_arn = self.user.arn
        self.credentials_secret_arn = self.secret.arn
        self.register_outputs({"principalArn": self.principal_arn, "credentialsSecretArn": self.credentials_secret_arn})

    def _profile(
        self, name: str, model: str, args: BedrockAccessArgs, lookups: SystemProfiles, tags: Mapping[str, str]
    ) -> list[pulumi.Output[ModelGrant]]:
        """Declare the deployment's application profile for `model` and return what its policy grants (and,
        with `keep_system_profile_grants`, the grant the stack gave before deployments existed).

        A copy of a `us.` system profile routes to that profile's regions (the AWS CLI reference of
        CreateInferenceProfile: pass the system profile "that contains the regions you want requests
        routed to", docs/research/models-and-apis-2026-12.md §6, VERIFIED), so the foundation models
        granted are the system profile's routes, read and checked (US only) before the copy is made.
        """
        parsed = parse_model_id(model)
        source: pulumi.Output[SystemProfile]
        if parsed.via_us_profile:
            source = lookups.get(model)
        else:
            in_region = foundation_model_arn(args.region, model)
            source = pulumi.Output.from_input(SystemProfile(in_region, (in_region,)))
        profile = aws.bedrock.InferenceProfile(
            f"{name}-profile-{model_slug(model)}",
            name=profile_name(args.name_prefix, args.deployment, model),
            model_source=aws.bedrock.InferenceProfileModelSourceArgs(copy_from=source.apply(lambda s: s.arn)),
            tags=dict(tags),
            # The name is fixed, and Bedrock refuses a second profile of the same name: a replacement
            # (copy_from changed) must delete the old one first (research §3, "Pulumi auto-naming").
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        self.profiles[model] = profile
        grants = [
            pulumi.Output.all(profile.arn, source).apply(
                lambda v: profile_grant(model, parsed.foundation_model_id, v[0], v[1].routes)
            )
        ]
        if args.keep_system_profile_grants:
            grants.append(
                source.apply(
                    lambda s: (
                        profile_grant(model, parsed.foundation_model_id, s.arn, s.routes)
                        if parsed.via_us_profile
                        else in_region_grant(model, args.region)
                    )
                )
            )
        return grants


def deployment_accesses(
    cfg: StackConfig, kms_key_arn: pulumi.Input[str], provider: pulumi.ProviderResource
) -> dict[str, BedrockAccess]:
    """One BedrockAccess per deployment of the stack, all through `provider`, sharing the `us.` lookups."""
    lookups = SystemProfiles(pulumi.InvokeOutputOptions(provider=provider))
    scoped = pulumi.ResourceOptions(providers=[provider])
    return {
        d.name: BedrockAccess(
            access_name(d.name),
            BedrockAccessArgs(
                cfg.region,
                d.models or cfg.models,
                kms_key_arn,
                cfg.credentials_generation,
                d.name,
                d.tags,
                cfg.resource_prefix,
                lookups,
                keep_system_profile_grants=not cfg.deployments,
            ),
            scoped,
        )
        for d in cfg.effective_deployments
    }
