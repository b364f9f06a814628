"""Bedrock credentials for the endpoints: write-only secrets, resolved only when a write needs them.

Sources, in order: `BEDROCK_ACCESS_KEY_ID` + `BEDROCK_SECRET_ACCESS_KEY`, else the cluster's deployment's
secret (`deployments.<name>.credentialsSecretArn` of the stack outputs), else the file's
`bedrock.credentials.secret_arn` (the stack output `credentialsSecretArn`: JSON with `access_key_id`
and `secret_access_key`). Elasticsearch never returns them, so they are never compared: a plan cannot
tell whether the key in the cluster is current. Rotation is an explicit command, not a diff.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pydantic import SecretStr

from provisioning.adapters import environment, redact
from provisioning.core.errors import CredentialsError
from provisioning.core.model import DesiredState

ENV_ACCESS_KEY_ID = "BEDROCK_ACCESS_KEY_ID"
ENV_SECRET_ACCESS_KEY = "BEDROCK_SECRET_ACCESS_KEY"  # noqa: S105 (an environment variable name)
# IAM access key ids are upper-case letters and digits (IAM API reference, AccessKey.AccessKeyId: 16-128
# characters, pattern [\w]+); secret keys are printable ASCII. Anything else would fail only at Bedrock.
_ACCESS_KEY_ID = re.compile(r"[A-Z0-9]{16,128}")
_SECRET_ACCESS_KEY = re.compile(r"[!-~]+")


@dataclass(frozen=True)
class BedrockCredentials:
    access_key_id: SecretStr
    secret_access_key: SecretStr
    source: str

    def __post_init__(self) -> None:
        # Wherever they were resolved from, these keys may now be echoed back by a server: never print them.
        redact.register(*self.values())

    def values(self) -> tuple[str, str]:
        """The raw values, for redaction only."""
        return (self.access_key_id.get_secret_value(), self.secret_access_key.get_secret_value())

    def __repr__(self) -> str:
        return f"BedrockCredentials(source={self.source!r})"


def describe_source(state: DesiredState, environ: Mapping[str, str], deployment_secret: str | None = None) -> str:
    """Where credentials would come from, for plan output (nothing is read)."""
    if environ.get(ENV_ACCESS_KEY_ID) or environ.get(ENV_SECRET_ACCESS_KEY):
        over = f", over deployment secret {deployment_secret}" if deployment_secret else ""
        return f"environment ({ENV_ACCESS_KEY_ID}, {ENV_SECRET_ACCESS_KEY}{over})"
    if deployment_secret is not None:
        return f"the deployment's Secrets Manager secret {deployment_secret}"
    if state.bedrock is not None and state.bedrock.credentials is not None:
        return f"Secrets Manager secret {state.bedrock.credentials.secret_arn}"
    return "not configured"


def _read_from_secrets_manager(secret_arn: str) -> str:
    # Imported here: boto3 is slow to import and only this path needs it.
    from provisioning.adapters.aws import read_secret_string

    return read_secret_string(secret_arn)


def resolve(
    state: DesiredState,
    environ: Mapping[str, str],
    read_secret: Callable[[str], str] | None = None,
    deployment_secret: str | None = None,
) -> BedrockCredentials:
    """The key pair from the first source that has one (order in the module docstring)."""
    key_id = environment.read(environ, ENV_ACCESS_KEY_ID, CredentialsError)
    secret = environment.read(environ, ENV_SECRET_ACCESS_KEY, CredentialsError)
    if key_id or secret:
        if not (key_id and secret):
            raise CredentialsError(f"set both {ENV_ACCESS_KEY_ID} and {ENV_SECRET_ACCESS_KEY}, or neither")
        if not _ACCESS_KEY_ID.fullmatch(key_id):
            raise CredentialsError(
                f"{ENV_ACCESS_KEY_ID} is not an AWS access key id (16-128 upper-case letters and digits; "
                "the value is not shown)"
            )
        if not _SECRET_ACCESS_KEY.fullmatch(secret):
            raise CredentialsError(
                f"{ENV_SECRET_ACCESS_KEY} holds spaces or non-ASCII characters (the value is not shown)"
            )
        return BedrockCredentials(SecretStr(key_id), SecretStr(secret), "environment")
    if deployment_secret is not None:
        return from_secret(deployment_secret, read_secret)
    if state.bedrock is None or state.bedrock.credentials is None:
        raise CredentialsError(
            f"no Bedrock credentials: set {ENV_ACCESS_KEY_ID}/{ENV_SECRET_ACCESS_KEY} or bedrock.credentials.secret_arn"
        )
    return from_secret(state.bedrock.credentials.secret_arn, read_secret)


def from_secret(arn: str, read_secret: Callable[[str], str] | None = None) -> BedrockCredentials:
    """The key pair in the stack's secret (JSON with access_key_id and secret_access_key)."""
    raw = (read_secret or _read_from_secrets_manager)(arn)
    try:
        document = json.loads(raw)
        key_id, secret = document["access_key_id"], document["secret_access_key"]
    except (ValueError, KeyError, TypeError):
        raise CredentialsError(f"secret {arn} is not JSON with access_key_id and secret_access_key") from None
    if not (isinstance(key_id, str) and isinstance(secret, str) and key_id and secret):
        raise CredentialsError(f"secret {arn} is not JSON with access_key_id and secret_access_key")
    return BedrockCredentials(SecretStr(key_id), SecretStr(secret), f"Secrets Manager secret {arn}")
