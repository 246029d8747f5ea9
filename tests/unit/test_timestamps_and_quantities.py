"""Every timestamp and number form of SPEC 2, read by the ingestion macros."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from orchestration.defs.ingest.sql_macros import connect_for_ingest


@pytest.fixture(scope="module")
def con():
    return connect_for_ingest()


@pytest.mark.parametrize(
    ("json_value", "expected"),
    [
        ('"2026-10-03T12:00:00Z"', datetime(2026, 10, 3, 12, 0, tzinfo=UTC)),
        ('"2026-10-03T14:00:00+02:00"', datetime(2026, 10, 3, 12, 0, tzinfo=UTC)),
        ('"2026-10-03T07:30:00-04:30"', datetime(2026, 10, 3, 12, 0, tzinfo=UTC)),
        ('"2026-10-03T12:00:00"', datetime(2026, 10, 3, 12, 0, tzinfo=UTC)),  # no zone = UTC
        ('"2026-10-03 12:05:00"', datetime(2026, 10, 3, 12, 5, tzinfo=UTC)),
        ('"2026-10-03 12:05:00.250"', datetime(2026, 10, 3, 12, 5, 0, 250000, tzinfo=UTC)),
        # 1791029400000 ms = 1791029400 s = 2026-10-03T12:10:00Z
        ("1791029400000", datetime(2026, 10, 3, 12, 10, tzinfo=UTC)),
        (
            '{"_seconds": 1791029000, "_nanoseconds": 0}',
            datetime(2026, 10, 3, 12, 3, 20, tzinfo=UTC),
        ),
        (
            '{"seconds": 1791029700, "nanos": 500000000}',
            datetime(2026, 10, 3, 12, 15, 0, 500000, tzinfo=UTC),
        ),
        ('{"seconds": "1791029700", "nanos": 0}', datetime(2026, 10, 3, 12, 15, tzinfo=UTC)),
    ],
)
def test_timestamp_forms_are_read_as_utc(con, json_value, expected):
    (value,) = con.execute("SELECT ml_timestamp(?::JSON)", [json_value]).fetchone()
    assert value == expected


@pytest.mark.parametrize(
    "json_value", ['"yesterday"', '""', "true", "null", '{"foo": 1}', '"2026-13-45T00:00:00Z"']
)
def test_unreadable_timestamps_are_null(con, json_value):
    assert con.execute("SELECT ml_timestamp(?::JSON)", [json_value]).fetchone()[0] is None


@pytest.mark.parametrize(
    ("json_value", "expected"),
    [
        ("1791028800000000000", datetime(2026, 10, 3, 12, 0, tzinfo=UTC)),
        ('"1791028800010000000"', datetime(2026, 10, 3, 12, 0, 0, 10000, tzinfo=UTC)),
    ],
)
def test_otlp_unix_nanos_as_int_or_string(con, json_value, expected):
    assert con.execute("SELECT ml_unix_nano(?::JSON)", [json_value]).fetchone()[0] == expected


@pytest.mark.parametrize(
    ("json_value", "expected"),
    [
        ("1", Decimal("1")),
        ('"2.75"', Decimal("2.75")),
        ('" 18.25 "', Decimal("18.25")),
        ("0.1", Decimal("0.1")),  # exact: never the binary float 0.1000000000000000055...
        ("1.28e-06", Decimal("0.00000128")),
        ("0", Decimal("0")),
    ],
)
def test_quantities_are_exact_decimals(con, json_value, expected):
    assert con.execute("SELECT ml_quantity(?::JSON)", [json_value]).fetchone()[0] == expected


@pytest.mark.parametrize("json_value", ["-1", '"-0.5"', '"NaN"', '"abc"', "true", '"inf"', "1e400"])
def test_bad_quantities(con, json_value):
    assert con.execute("SELECT ml_bad_quantity(?::JSON)", [json_value]).fetchone()[0] is True


def test_absent_or_null_quantity_is_not_bad_but_missing(con):
    assert con.execute("SELECT ml_bad_quantity(NULL::JSON)").fetchone()[0] is False
    assert con.execute("SELECT ml_bad_quantity('null'::JSON)").fetchone()[0] is False
