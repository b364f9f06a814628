"""The only module that imports boto3: reads from AWS with the standard credential chain.

`AWS_ENDPOINT_URL` (honoured by botocore) points these calls at a local moto server in tests.
"""

from __future__ import annotations

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from provisioning.errors import CredentialsError


def read_secret_string(secret_arn: str) -> str:
    """SecretString of a Secrets Manager secret, in the secret's own region; errors never include it."""
    region = secret_arn.split(":")[3]
    try:
        client = boto3.client("secretsmanager", region_name=region)
        response = client.get_secret_value(SecretId=secret_arn)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        raise CredentialsError(f"cannot read secret {secret_arn}: {code}") from None
    except BotoCoreError as exc:
        raise CredentialsError(f"cannot read secret {secret_arn}: {type(exc).__name__}") from None
    value = response.get("SecretString")
    if not isinstance(value, str):
        raise CredentialsError(f"secret {secret_arn} has no SecretString")
    return value
