"""The one redaction function: every line managed-llm prints goes through `redact` at the output boundary.

It knows every secret in play: the values of the environment variables the tool reads as secrets (and any
variable whose name says it holds one), secrets resolved at run time (`register`, e.g. Bedrock keys read
from Secrets Manager), their derived forms (base64 of `user:password`, URL- and JSON-escaped forms), and
shapes that are secrets whatever their origin (`Authorization` values, AWS key ids, 40-character AWS
secret keys next to the word "secret", URL userinfo and query strings). `redacted_output()` swaps
sys.stdout and sys.stderr for line-buffered redacting streams, so no command can print around it.
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO
from urllib.parse import quote, quote_plus

MASK = "***"
# Shorter values are not masked: a 1-character "secret" would wipe every occurrence of that letter.
MIN_SECRET_LENGTH = 6
# Variables the tool reads as secrets, whatever the naming heuristics below say.
SECRET_VARIABLES: frozenset[str] = frozenset(
    {
        "ELASTICSEARCH_API_KEY",
        "ELASTICSEARCH_PASSWORD",
        "KIBANA_API_KEY",
        "KIBANA_PASSWORD",
        "BEDROCK_ACCESS_KEY_ID",
        "BEDROCK_SECRET_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
    }
)
# A variable is a secret when one of its `_`-separated words says so (GITHUB_TOKEN, DB_PASSWORD,
# MANAGED_LLM_PROD_API_KEY), not when a word merely starts like one (TOKENIZERS_PARALLELISM).
_SECRET_WORDS: frozenset[str] = frozenset(
    {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "APIKEY", "CREDENTIALS", "PRIVATE", "AUTH"}
)
_SECRET_PAIRS: frozenset[tuple[str, str]] = frozenset({("API", "KEY"), ("ACCESS", "KEY"), ("SECRET", "KEY")})

# An echoed `Authorization` header, or a credential after its scheme word anywhere in a line.
_AUTH_HEADER = re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?:(?:Basic|ApiKey|Bearer)\s+)?[^\s\"',}\]]+")
_SCHEME_TOKEN = re.compile(r"\b(Basic|ApiKey|Bearer)(\s+)([A-Za-z0-9+/=._~-]{8,})")
_AWS_KEY_PREFIXES = ("AKIA", "ASIA", "ABIA", "ACCA")
_AWS_KEY_ID = re.compile(rf"\b(?:{'|'.join(_AWS_KEY_PREFIXES)})[A-Z0-9]{{16}}\b")
# An AWS secret access key: 40 base64 characters, masked when the word "secret" comes shortly before it.
_AWS_SECRET = re.compile(r"(?i)(secret[A-Za-z_\-]*[\"']?\s*[:=]?\s*[\"']?\s*)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])")
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)([^\s/?#@'\"<>`|]*@)?([^\s?#'\"<>`|]*)(\?[^\s#'\"<>`|]*)?")


def is_secret_variable(name: str) -> bool:
    """Whether an environment variable's name says it holds a secret."""
    upper = name.upper()
    if upper in SECRET_VARIABLES:
        return True
    words = upper.split("_")
    return any(w in _SECRET_WORDS for w in words) or any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def derived_forms(secret: str) -> set[str]:
    """The forms a secret takes in transit: as is, stripped, base64, URL-encoded, JSON-escaped."""
    forms = {secret, secret.strip()}
    for value in list(forms):
        forms |= {quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}
        forms.add(base64.b64encode(value.encode()).decode())
    # A base64 key (Elasticsearch's `id:key` API keys) is a secret decoded too, and so is its key part.
    try:
        decoded = base64.b64decode(secret.strip(), validate=True).decode()
    except ValueError:
        decoded = ""
    if decoded.isprintable() and ":" in decoded:
        forms |= {decoded, decoded.split(":", 1)[1]}
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


class Redactor:
    """A set of secret values (and their derived forms), thread-safe, applied longest first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._ordered: tuple[str, ...] = ()

    def register(self, *secrets: str | None) -> None:
        with self._lock:
            for secret in secrets:
                if secret and len(secret.strip()) >= MIN_SECRET_LENGTH:
                    self._values |= derived_forms(secret)
            self._ordered = tuple(sorted(self._values, key=len, reverse=True))

    def register_basic(self, username: str | None, password: str | None) -> None:
        """The `Authorization: Basic` token of a username/password pair."""
        if username and password:
            for user in {username, username.strip()}:
                for pw in {password, password.strip()}:
                    self.register(base64.b64encode(f"{user}:{pw}".encode()).decode())

    def register_environment(self, environ: Mapping[str, str]) -> None:
        """Every secret-named variable's value, and Basic tokens of `<X>_USERNAME` + `<X>_PASSWORD` pairs."""
        self.register(*(value for name, value in environ.items() if is_secret_variable(name)))
        for name, password in environ.items():
            if name.upper().endswith("_PASSWORD"):
                self.register_basic(environ.get(name[: -len("PASSWORD")] + "USERNAME"), password)

    def redact(self, text: str, extra: Iterable[str] = ()) -> str:
        known = self._ordered
        more = [f for s in extra if s for f in derived_forms(s)]
        for secret in sorted(more, key=len, reverse=True) + list(known) if more else known:
            if secret in text:
                text = text.replace(secret, MASK)
        # Each shape below needs a literal that a plain substring search finds far faster than the pattern's
        # scan, so a pattern runs only on text that can hold a match (a 2 MB JSON plan holds few of them).
        # Case-insensitive patterns also match U+0130, U+0131, U+017F and U+212A for i, s and k, which `lower()`
        # leaves alone: outside ASCII the two case-insensitive patterns always run.
        lowered = text.lower() if text.isascii() else "authorization secret"
        if "authorization" in lowered:
            text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
        if "Basic" in text or "ApiKey" in text or "Bearer" in text:
            text = _SCHEME_TOKEN.sub(_mask_token, text)
        if any(prefix in text for prefix in _AWS_KEY_PREFIXES):
            text = _AWS_KEY_ID.sub(MASK, text)
        if "secret" in lowered:
            text = _AWS_SECRET.sub(lambda m: m.group(1) + MASK, text)
        return _URL.sub(_strip_url, text) if "://" in text else text


def _mask_token(match: re.Match[str]) -> str:
    """`Basic <base64 of user:password>`, or an `ApiKey`/`Bearer` token (not a prose word such as "Basic auth")."""
    scheme, space, token = match.groups()
    if scheme == "Basic":
        try:
            secret = ":" in base64.b64decode(token, validate=True).decode()
        except ValueError:
            secret = False
    else:
        secret = len(token) >= 16 or any(c.isdigit() for c in token)
    return f"{scheme}{space}{MASK}" if secret else match.group(0)


def _strip_url(match: re.Match[str]) -> str:
    """A URL without its userinfo and query string (either may carry a token)."""
    scheme, userinfo, rest, query = match.groups()
    return f"{scheme}{MASK + '@' if userinfo else ''}{rest}{'?' + MASK if query else ''}"


_current = Redactor()
_current_lock = threading.Lock()


def register(*secrets: str | None) -> None:
    """Make a secret resolved at run time (a key read from Secrets Manager) unprintable, process-wide."""
    _current.register(*secrets)


def register_basic(username: str | None, password: str | None) -> None:
    _current.register_basic(username, password)


def register_environment(environ: Mapping[str, str]) -> None:
    _current.register_environment(environ)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """`text` with every known secret, its derived forms and secret-shaped values replaced by `***`."""
    return _current.redact(text, extra)


class RedactingStream(io.TextIOBase):
    """A text stream that redacts each line before it reaches `target`.

    Text is held until a line ends (`\\n`, or `\\r` for progress lines), so a secret split across two
    writes is still seen whole. flush() never writes a partial line, not even on a terminal: the part
    written could be the start of a secret whose end comes in the next write. The CLI asks nothing
    interactively, and rich's progress bar redraws with `\\r`, so at most a bar frame shows one refresh late.
    """

    def __init__(self, target: TextIO) -> None:
        super().__init__()
        self.target = target
        self._pending = ""
        self._lock = threading.RLock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.target, "errors", None)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        with self._lock:
            self._pending += text
            end = max(self._pending.rfind("\n"), self._pending.rfind("\r"))
            if end >= 0:
                ready, self._pending = self._pending[: end + 1], self._pending[end + 1 :]
                self.target.write(redact(ready))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self.target.flush()

    def seal(self) -> None:
        """Redact the held text with the secrets in force now and keep holding it (a nested block ends)."""
        with self._lock:
            self._pending = redact(self._pending)
            self.target.flush()

    def drain(self) -> None:
        """Write whatever is held (the end of the output), redacted."""
        with self._lock:
            if self._pending:
                self.target.write(redact(self._pending))
                self._pending = ""
            self.target.flush()


@contextmanager
def redacted_output(environ: Mapping[str, str] | None = None) -> Iterator[None]:
    """Within the block, everything written to sys.stdout or sys.stderr is redacted; a fresh set of secrets
    (those of `environ` and of the process environment) is in force, and the previous one comes back after."""
    global _current
    import os

    with _current_lock:
        previous, _current = _current, Redactor()
    _current.register_environment(os.environ)
    if environ is not None:
        _current.register_environment(environ)
    saved = sys.stdout, sys.stderr
    # Nested (the console script's main around click's): the streams in place already redact, with whatever
    # redactor is current when a line ends, so wrapping again would only redact every line twice. On the way
    # out, their held text (a partial line) is redacted with this block's secrets and still held, never written,
    # until its line ends: as a nested stream's drain into the outer one did.
    out: RedactingStream
    err: RedactingStream
    if isinstance(sys.stdout, RedactingStream) and isinstance(sys.stderr, RedactingStream):
        nested, out, err = True, sys.stdout, sys.stderr
    else:
        nested, out, err = False, RedactingStream(sys.stdout), RedactingStream(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        yield
    finally:
        for stream in (out, err):
            if nested:
                stream.seal()
            else:
                stream.drain()
        sys.stdout, sys.stderr = saved
        with _current_lock:
            _current = previous
