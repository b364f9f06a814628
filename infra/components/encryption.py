"""The project's KMS key: encrypts the invocation log group, the credentials secret and the alarm topic."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.constants import COMPONENT_PREFIX
from infra.policies import key_policy


@dataclass(frozen=True)
class EncryptionKeyArgs:
    account_id: pulumi.Input[str]
    region: str
    log_group_name: str
    alias: str


class EncryptionKey(pulumi.ComponentResource):
    """A symmetric customer key with yearly rotation and a policy built from data (`policies.key_policy`)."""

    key: aws.kms.Key
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(f"{COMPONENT_PREFIX}:EncryptionKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        policy = pulumi.Output.from_input(args.account_id).apply(
            lambda account: json.dumps(key_policy(account, args.region, args.log_group_name))
        )
        self.key = aws.kms.Key(
            f"{name}-key",
            description="managed-llm: Bedrock invocation metadata logs, credentials secret, alarm topic",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy,
            opts=child,
        )
        aws.kms.Alias(f"{name}-alias", name=f"alias/{args.alias}", target_key_id=self.key.key_id, opts=child)
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn})
