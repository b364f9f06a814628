"""The ARN shapes the stack's outputs and the file may carry: one home for the patterns both sides check.

An application inference profile is `arn:aws:bedrock:<region>:<account>:application-inference-profile/<id>`
(docs/research/many-deployments-2026-12.md §1); its id is the last segment. Only US regions are accepted,
as everywhere else in this tool.
"""

from __future__ import annotations

import re

APPLICATION_PROFILE_ARN = re.compile(
    r"arn:aws:bedrock:(?P<region>us-[a-z]+-\d+):(?P<account>\d{12}):application-inference-profile/(?P<id>[a-z0-9]{1,64})",
    re.ASCII,
)
IAM_ARN = re.compile(r"arn:aws:iam::\d{12}:(?:user|role)/[A-Za-z0-9+=,.@_/-]{1,512}", re.ASCII)
SECRET_ARN = re.compile(r"arn:aws:secretsmanager:us-[a-z]+-\d+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}", re.ASCII)


def is_application_profile_arn(value: str) -> bool:
    return APPLICATION_PROFILE_ARN.fullmatch(value) is not None


def profile_region(arn: str) -> str | None:
    """The region of an application-profile ARN, or None when it is not one."""
    match = APPLICATION_PROFILE_ARN.fullmatch(arn)
    return match["region"] if match else None
