"""managed-llm's policy pack: `pulumi preview --policy-pack policy` fails when a guard rail is broken."""

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import POLICIES

PolicyPack(name="managed-llm-guardrails", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
