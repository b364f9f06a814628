"""Which mapping keys name a credential, whatever their spelling (camelCase, kebab-case, snake_case, UPPER).

One list of credential words, matched against the key with camel case split, separators dropped and
letters lower-cased, so `secretAccessKey`, `aws-secret-access-key`, `API_KEY` and `client_secret` are all
caught. Keys that only *name* where a secret lives (`secret_arn`, the `*_env` variables of `clusters:`,
`bedrock.credentials`) are not credentials.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Normalised (lower case, no separators) fragments that make a key a credential.
CREDENTIAL_WORDS: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "apikey",
    "accesskey",
    "privatekey",
    "credential",
    "authorization",
    "bearer",
    "token",
)
_CREDENTIAL = re.compile("|".join(CREDENTIAL_WORDS))
# Token *counts* (`max_new_tokens`, `max_input_tokens`, `totalTokens`) are not credentials.
_TOKEN_COUNT = re.compile(r"(?:max|new|input|output|prompt|completion|total)tokens")
# Suffixes of keys that name a secret's location, not its value: exact, as the schema spells them.
REFERENCE_SUFFIXES = ("_arn", "_env")
# `bedrock.credentials` holds `secret_arn` (a reference); what it holds is still checked key by key.
REFERENCE_KEYS = frozenset({"credentials"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[\W_]+")


def normalise_key(key: str) -> str:
    """`secretAccessKey`, `Secret-Access_KEY`, `secret access key` -> `secretaccesskey`."""
    return _SEPARATORS.sub("", _CAMEL.sub(" ", key)).lower()


@lru_cache(maxsize=4096)  # a file repeats the same few keys thousands of times
def names_credential(key: str) -> bool:
    """Whether a key looks like it holds a credential (the value is never looked at here)."""
    if key.endswith(REFERENCE_SUFFIXES) or key in REFERENCE_KEYS:
        return False
    return _CREDENTIAL.search(_TOKEN_COUNT.sub("", normalise_key(key))) is not None
