"""Values read from the environment: one cleaning rule for every variable (ES, Kibana, Bedrock, MANAGED_LLM_*).

A value pasted from a password manager or `echo`ed into a CI variable often carries a trailing newline or
spaces: surrounding whitespace is dropped. What is left must not hold control characters; the error names
the variable and never shows the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from provisioning.core.errors import ConnectionSettingsError, ManagedLlmError

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(value: str | None, name: str, error: type[ManagedLlmError] = ConnectionSettingsError) -> str:
    """`value` without surrounding whitespace ("" when unset); control characters inside raise `error`."""
    value = (value or "").strip()
    if _CONTROL.search(value):
        raise error(f"{name} contains control characters (the value is not shown)")
    return value


def read(environ: Mapping[str, str], name: str, error: type[ManagedLlmError] = ConnectionSettingsError) -> str:
    """The cleaned value of environment variable `name` ("" when unset or blank)."""
    return clean(environ.get(name), name, error)
