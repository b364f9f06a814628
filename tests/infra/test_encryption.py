"""The project KMS key: rotation on, policy principals and conditions as recorded by the engine."""

from __future__ import annotations

from infra.components.encryption import EncryptionKey, EncryptionKeyArgs
from tests.infra.conftest import ACCOUNT, Engine, policy_of, scoped_to

GROUP = "/managed-llm/test/bedrock-invocations"


def build(engine: Engine, region: str = "us-east-1") -> None:
    engine.run(
        lambda: EncryptionKey("enc", EncryptionKeyArgs(ACCOUNT, region, GROUP, "managed-llm-test"), scoped_to(region))
    )


def test_key_rotates_and_is_symmetric_default(engine: Engine) -> None:
    build(engine)
    key = engine.mocks.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True, key.urn
    # CloudWatch Logs accepts symmetric keys only: neither spec nor usage may be overridden.
    assert "customerMasterKeySpec" not in key.inputs, key.urn
    assert "keyUsage" not in key.inputs, key.urn


def test_key_policy_lets_the_regional_logs_principal_use_it_for_our_group(engine: Engine) -> None:
    build(engine, region="us-east-2")
    key = engine.mocks.one("aws:kms/key:Key")
    statements = {s["Sid"]: s for s in policy_of(key)["Statement"]}
    logs = statements["CloudWatchLogsEncryptsInvocationLogGroup"]
    assert logs["Principal"] == {"Service": "logs.us-east-2.amazonaws.com"}, key.urn
    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == (
        f"arn:aws:logs:us-east-2:{ACCOUNT}:log-group:{GROUP}"
    )
    assert statements["AccountAdministersKey"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}


def test_key_has_a_readable_alias(engine: Engine) -> None:
    build(engine)
    alias = engine.mocks.one("aws:kms/alias:Alias")
    assert alias.inputs["name"] == "alias/managed-llm-test"
    assert alias.inputs["targetKeyId"] == engine.mocks.one("aws:kms/key:Key").outputs["keyId"]
