"""What a deployment is called, shared by the stack config (infra/) and the file and stack outputs (provisioning/).

A deployment's name becomes part of IAM user, profile, budget and alarm names, so both sides hold it to one
rule; `default` is the one deployment a stack without `deployments` serves (the contract of issue 13).
"""

from __future__ import annotations

import re

DEFAULT_DEPLOYMENT = "default"
# Lower-case letters, digits and '-', starting with a letter and not ending with '-', at most 32 characters.
DEPLOYMENT_NAME = re.compile(r"[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?", re.ASCII)
# The same rule anchored, for pydantic's `pattern=` (which searches).
DEPLOYMENT_NAME_PATTERN = rf"^{DEPLOYMENT_NAME.pattern}$"
