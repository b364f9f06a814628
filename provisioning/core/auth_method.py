"""How a cluster (Elasticsearch or Kibana) authenticates: an API key, or a username and a password, never both.

The one statement of that rule, for both places that check it: a `clusters:` entry of the file, which names
the variables (`core.model.Cluster`), and the environment read at run time (`adapters.settings`).
"""

from __future__ import annotations


def auth_method_problem(
    api_key: object, username: object, password: object, *, names: tuple[str, str, str]
) -> str | None:
    """Why these settings break the rule (`names` spells the key, username and password as the user wrote
    them), or None when they follow it. Nothing set at all is allowed: the cluster may need no credentials."""
    key, user, secret = names
    if api_key and (username or password):
        return f"set either {key} or {user}/{secret}, not both"
    if bool(username) != bool(password):
        return f"{user} and {secret} must be set together"
    return None
