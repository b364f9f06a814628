"""The principal Elasticsearch uses to call Bedrock: an IAM user, invoke-only on the allow-listed models.

Elasticsearch's `amazonbedrock` service signs with a static access key and no session token, so the
principal must be an IAM user (elastic/elasticsearch AmazonBedrockInferenceClient.java builds
AwsBasicCredentials from the key pair only). Its key lives only in a
KMS-encrypted Secrets Manager secret; the stack exports the secret's ARN, never its value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import monitor_supports_feature

from catalog.models import parse_model_id
from infra.constants import COMPONENT_PREFIX
from infra.policies import ModelGrant, bedrock_invoke_policy, in_region_grant, profile_grant


@dataclass(frozen=True)
class BedrockAccessArgs:
    region: str
    models: Sequence[str]
    kms_key_arn: pulumi.Input[str]
    credentials_generation: int


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
    """IAM user + inline invoke policy + rotating access keys + the secret holding the current key."""

    user: aws.iam.User
    policy: aws.iam.Policy
    access_keys: dict[int, aws.iam.AccessKey]
    secret: aws.secretsmanager.Secret
    secret_version: aws.secretsmanager.SecretVersion
    principal_arn: pulumi.Output[str]
    credentials_secret_arn: pulumi.Output[str]

    def __init__(self, name: str, args: BedrockAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if not monitor_supports_feature(resource_pb2.RESOURCE_MONITOR_FEATURE_REPLACEMENT_TRIGGER):
            # An older engine would ignore replacement_trigger: "rotation" would then put an old key back
            # into the secret. Refuse before declaring anything.
            raise pulumi.RunError(
                "key rotation needs a Pulumi CLI that supports replacement triggers; upgrade the Pulumi CLI"
            )
        super().__init__(f"{COMPONENT_PREFIX}:BedrockAccess", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.user = aws.iam.User(f"{name}-user", path="/managed-llm/", opts=child)
        grants = [self._grant(model, args.region) for model in args.models]
        # A managed policy (6,144 characters) rather than an inline one: a user's inline policies share 2,048.
        self.policy = aws.iam.Policy(
            f"{name}-invoke-policy",
            path="/managed-llm/",
            description="managed-llm: invoke the allow-listed Bedrock models only",
            policy=pulumi.Output.all(*grants).apply(lambda gs: json.dumps(bedrock_invoke_policy(gs))),
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

    def _grant(self, model: str, region: str) -> pulumi.Output[ModelGrant]:
        parsed = parse_model_id(model)
        if not parsed.via_us_profile:
            return pulumi.Output.from_input(in_region_grant(model, region))
        # The profile's destination regions depend on the model and the source region, so they are read
        # from Bedrock (GetInferenceProfile) at deploy time rather than hard-coded
        # (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html).
        profile = aws.bedrock.get_inference_profile_output(
            inference_profile_id=model, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        return profile.apply(
            lambda p: profile_grant(
                model, parsed.foundation_model_id, p.inference_profile_arn, [m.model_arn for m in p.models]
            )
        )
