"""`Retry-After` is server input: any header value gives a wait or None, never an exception."""

from __future__ import annotations

from email.utils import formatdate

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioning.adapters.retry import parse_retry_after

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
