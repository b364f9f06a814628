"""`Retry-After` is server input: any header value gives a wait or None, never an exception."""

from __future__ import annotations

import ssl
from email.utils import formatdate

import pytest
import urllib3
from elastic_transport import TlsError
from hypothesis import given
from hypothesis import strategies as st

from provisioning.adapters.es_client import _judge
from provisioning.adapters.retry import Call, dropped_during_tls, parse_retry_after

NOW = 1_700_000_000.0


@pytest.mark.parametrize("header", ["²", "٣", "1²", "①", "-1", "1.5", "0x10", "Wed, 21 Oct 99999 07:28:00 GMT"])
def test_unreadable_retry_after_is_none(header: str) -> None:
    assert parse_retry_after(header, NOW) is None


def test_retry_after_reads_seconds_and_dates() -> None:
    assert parse_retry_after(" 7 ", NOW) == 7.0
    assert parse_retry_after(formatdate(NOW + 30, usegmt=True), NOW) == 30.0
    assert parse_retry_after(formatdate(NOW - 30, usegmt=True), NOW) == 0.0


_DATEISH = st.builds(
    lambda day, num, month, year, clock, zone: f"{day}, {num} {month} {year} {clock} {zone}",
    st.sampled_from(["Mon", "Wed", "Xyz", ""]),
    st.text("0123456789²٣-", max_size=4),
    st.sampled_from(["Jan", "Oct", "Foo", ""]),
    st.text("0123456789-", max_size=7),
    st.text("0123456789:", max_size=9),
    st.sampled_from(["GMT", "+9999", "-0000", "UT", "", "+99999999"]),
)


@given(st.one_of(st.text(max_size=40), _DATEISH))
def test_any_retry_after_is_a_float_or_none(header: str) -> None:
    wait = parse_retry_after(header, NOW)
    assert wait is None or (isinstance(wait, float) and wait >= 0)


def _tls_error(cause: BaseException) -> TlsError:
    """A TLS error built as elastic-transport builds it: TlsError from urllib3's SSLError from the ssl error."""
    try:
        try:
            raise cause
        except BaseException as low:
            raise urllib3.exceptions.SSLError(low) from low
    except urllib3.exceptions.SSLError as wrapped:
        error = TlsError(str(wrapped))
        error.__cause__ = wrapped
        return error


@pytest.mark.parametrize(
    ("cause", "retried"),
    [
        (ssl.SSLEOFError(8, "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol"), True),
        (ConnectionResetError(104, "Connection reset by peer"), True),
        (ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), False),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), False),
    ],
    ids=["eof", "reset", "certificate", "protocol"],
)
def test_a_tls_error_is_retried_only_when_the_connection_was_dropped(cause: BaseException, retried: bool) -> None:
    error = _tls_error(cause)
    assert dropped_during_tls(error) is retried
    judged = {call: _judge(error, call=call, retry_after=lambda _h: None).retry for call in Call}
    # A billed call is never sent again after a TLS failure: the drop may have come after the request.
    assert judged == {Call.READ: retried, Call.WRITE: retried, Call.NON_IDEMPOTENT: False}
