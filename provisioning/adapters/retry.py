"""One retry policy for every HTTP call the CLI makes (Elasticsearch and Kibana): backoff, Retry-After, a bound.

Neither library does this for us: elastic-transport sleeps only after connection errors (a 429 or 503
is retried at once) and ignores `Retry-After`; urllib3's `Retry` honours `Retry-After` but its backoff
has no jitter by default and it cannot bound the total time of a call that times out repeatedly. So
both clients disable their library's retries and run each logical call through `RetryPolicy.run`:
exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"),
`Retry-After` (seconds or an HTTP date, RFC 9110 §10.2.3) honoured up to a cap, and each request, its
attempts and waits, kept under one deadline (`--timeout` bounds each request, not the whole command). `Call`
says what a request may be retried on: reads, idempotent writes, and billed inference calls. Clock, sleep
and randomness are injectable so tests can assert the waits without waiting.
"""

from __future__ import annotations

import random
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")

RETRY_ON_STATUS = frozenset({429, 502, 503, 504})
# Rejected before any work was done: Elasticsearch's own 429 (EsRejectedExecutionException) and a throttled
# Bedrock call both mean nothing ran, so even a billed call may be sent again.
RETRY_ON_STATUS_NON_IDEMPOTENT = frozenset({429})
_DELTA_SECONDS = re.compile(r"[0-9]+")
# A connection a peer or proxy drops during TLS surfaces, by timing alone, either as a reset (which the clients
# call a connection error) or as an SSL EOF (which they call a TLS error). Both are the same fault; a failed
# certificate check (ssl.SSLCertVerificationError) or protocol mismatch is not, and never heals by itself.
_DROPPED = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError, BrokenPipeError)
# How either client words such a failure once the retries are spent.
DROPPED_DURING_TLS = "the connection was closed during TLS"


class Call(StrEnum):
    """How safe a request is to send twice, which decides what a failed attempt may be retried on.

    READ: any retryable status, dropped connections and timeouts. WRITE (idempotent: PUT of the same body,
    DELETE): the same statuses and dropped connections, never a timeout (the write may still be running).
    NON_IDEMPOTENT (performing inference, billed per call): only a 429 and a connection that was never made;
    a 502/504, a reset or a timeout may come after Bedrock already ran (and billed) the request.
    """

    READ = "read"
    WRITE = "write"
    NON_IDEMPOTENT = "non-idempotent"

    def retries_status(self, status: int) -> bool:
        """Whether an HTTP error status is worth another attempt for this kind of call."""
        allowed = RETRY_ON_STATUS_NON_IDEMPOTENT if self is Call.NON_IDEMPOTENT else RETRY_ON_STATUS
        return status in allowed


# The bound on each request (all its attempts and waits), unless --timeout says otherwise.
DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class Verdict:
    """What a failed attempt means: retry it or not, and how long the server asked us to wait."""

    retry: bool
    retry_after: float | None = None


class GaveUp(Exception):
    """The call failed: `last` is the final attempt's error; `bound` is set when the deadline ended it."""

    def __init__(self, last: Exception, attempts: int, bound: float | None = None) -> None:
        super().__init__(f"{attempts} attempts")
        self.last = last
        self.attempts = attempts
        self.bound = bound

    @property
    def suffix(self) -> str:
        """Text appended to the final error when the call was retried or cut by the bound (else empty)."""
        parts = [f"after {self.attempts} attempts"] if self.attempts > 1 else []
        if self.bound is not None:
            parts.append(f"gave up at the {self.bound:g} s bound (--timeout)")
        return f" ({'; '.join(parts)})" if parts else ""


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts, backoff and per-attempt timeouts; `run` adds the total bound for one call."""

    max_retries: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    read_timeout: float = 30.0
    write_timeout: float = 150.0
    # A server asking for minutes is waited on for at most this long per retry (and never past the bound).
    retry_after_cap: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time
    uniform: Callable[[float, float], float] = random.uniform

    def backoff(self, retry: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**retry)] before retry number `retry` (0-based)."""
        return self.uniform(0.0, min(self.backoff_cap, self.backoff_base * 2**retry))

    def wait_before(self, retry: int, verdict: Verdict) -> float:
        if verdict.retry_after is not None:
            return min(max(verdict.retry_after, 0.0), self.retry_after_cap)
        return self.backoff(retry)

    def run(
        self,
        total: float,
        attempt: Callable[[float], T],
        judge: Callable[[Exception], Verdict],
        catch: tuple[type[Exception], ...],
    ) -> T:
        """Call `attempt(seconds_left)` until it returns, `judge` says no retry, or `total` seconds are spent.

        Only `catch` exceptions are judged (others go up unchanged); a call that ends in one of them
        raises GaveUp carrying the last error.
        """
        deadline = self.clock() + total
        attempts = 0
        while True:
            attempts += 1
            try:
                return attempt(max(deadline - self.clock(), 0.001))
            except catch as exc:
                verdict = judge(exc)
                if not verdict.retry or attempts > self.max_retries:
                    raise GaveUp(exc, attempts) from None
                wait = self.wait_before(attempts - 1, verdict)
                if self.clock() + wait >= deadline:
                    raise GaveUp(exc, attempts, bound=total) from None
                self.sleep(wait)

    def retry_after(self, header: str | None) -> float | None:
        """`Retry-After` in seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
        return parse_retry_after(header, self.wall_clock())


def dropped_during_tls(exc: BaseException) -> bool:
    """Whether a TLS-layer error is a dropped connection (EOF, reset), found anywhere in its chain of causes."""
    current: BaseException | None = exc
    for _ in range(16):  # the chain a client builds is a few links long; a cycle cannot keep us here
        if current is None:
            return False
        if isinstance(current, _DROPPED):
            return True
        current = current.__cause__ or current.__context__
    return False


def parse_retry_after(header: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` value; never raises, whatever a server sends.

    Delta-seconds are ASCII digits only (RFC 9110 §10.2.3): `str.isdigit` also accepts `²` or `٣`, which
    `float` refuses.
    """
    if not header:
        return None
    value = header.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            return None
        return max(0.0, when.timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None
