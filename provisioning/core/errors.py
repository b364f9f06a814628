"""The error hierarchy and the only home of exit codes.

Exit codes follow `terraform plan -detailed-exitcode`: 0 success / no changes, 2 changes present (plan
only), 1 any error. Every error renders as one line on stderr; none carries a secret or a request body.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2


class ManagedLlmError(Exception):
    """Base of every error the CLI reports as one line with exit code 1."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str) -> None:
        # One line, whatever the cause: newlines would break CI log parsers and hide the next line.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self)


class ConfigError(ManagedLlmError):
    """The declarative file, or the settings around it, are invalid: `file:line: path: message`."""

    @classmethod
    def at(cls, file: str, path: str, message: str, line: int | None = None) -> ConfigError:
        where = f"{file}:{line}" if line is not None else file
        return cls(f"{where}: {path}: {message}" if path else f"{where}: {message}")


class ConnectionSettingsError(ManagedLlmError):
    """Missing or contradictory connection settings (URL, auth, CA)."""


class CredentialsError(ManagedLlmError):
    """Bedrock credentials could not be resolved (environment or Secrets Manager)."""


class AwsError(ManagedLlmError):
    """An AWS read failed: the operation and AWS's error code, never a payload."""


class ClusterError(ManagedLlmError):
    """Elasticsearch refused a request or could not be reached: status and ES `type`/`reason` only."""

    def __init__(self, message: str, *, status: int | None = None, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


class AlreadyExists(ClusterError):
    """A create found the id taken (e.g. a retried PUT whose first attempt succeeded)."""


class PrivilegeError(ManagedLlmError):
    """The caller lacks a cluster privilege that apply needs; nothing was written."""


class PlanError(ManagedLlmError):
    """The plan cannot be applied as is (conflicts with objects the tool does not own, blocked replaces)."""
