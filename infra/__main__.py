"""managed-llm's AWS stack: compose the components and export the outputs the CLI reads (its contract)."""

import pulumi
import pulumi_aws as aws

from infra.components.bedrock_access import deployment_accesses
from infra.components.budgets import Budgets, BudgetsArgs
from infra.components.encryption import EncryptionKey, EncryptionKeyArgs
from infra.components.invocation_logging import InvocationLogging, InvocationLoggingArgs
from infra.components.monitoring import Monitoring, MonitoringArgs
from infra.config import StackConfig
from infra.constants import PROJECT
from infra.outputs import deployments_output, primary, watched_deployments

cfg = StackConfig.load()
# Every resource goes through this one provider, pinned to the configured US region.
provider = aws.Provider(f"aws-{cfg.region}", region=cfg.region, default_tags=cfg.default_tags)
scoped = pulumi.ResourceOptions(providers=[provider])
account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(provider=provider)).account_id
key = EncryptionKey(PROJECT, EncryptionKeyArgs(account_id, cfg.region, cfg.log_group_name, cfg.resource_prefix), scoped)
log_args = InvocationLoggingArgs(account_id, cfg.region, cfg.log_group_name, cfg.log_retention_days, key.arn)
invocation_logging = InvocationLogging(PROJECT, log_args, scoped)
accesses = deployment_accesses(cfg, key.arn, provider)  # per deployment: principal, key, secret, profiles
access = primary(accesses)  # `default` (or the first): what the outputs from before deployments describe
watched = watched_deployments(cfg, accesses)  # per deployment: models, profile ids, budget, tags
monitor_args = MonitoringArgs(
    cfg.region, cfg.models, cfg.resolved_prices, key.arn, cfg.resource_prefix, cfg.alarm_email, watched
)
monitoring = Monitoring(PROJECT, monitor_args, scoped)  # the same logical name as before deployments: no replace
Budgets(PROJECT, BudgetsArgs(cfg.resource_prefix, monitoring.budget_topic_arn, watched), scoped)
pulumi.export("region", cfg.region)
pulumi.export("models", list(access.profiles))
pulumi.export("credentialsSecretArn", access.credentials_secret_arn)
pulumi.export("elasticsearchPrincipalArn", access.principal_arn)
pulumi.export("logGroupName", invocation_logging.log_group.name)
pulumi.export("logGroupArn", invocation_logging.log_group.arn)
pulumi.export("kmsKeyArn", key.arn)
pulumi.export("alarmTopicArn", monitoring.topic.arn)
pulumi.export("dashboardName", monitoring.dashboard.dashboard_name)
pulumi.export("deployments", deployments_output(cfg.effective_deployments, accesses, cfg.resource_prefix))
