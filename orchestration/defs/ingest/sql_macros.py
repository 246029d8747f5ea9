"""DuckDB macros that turn raw JSON values into typed values, exactly as SPEC section 2 reads them.

Each macro takes a JSON value (or NULL when the field is absent) and returns NULL when the value
cannot be used, so the caller can name the quarantine reason.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from orchestration.core.settings import duckdb_memory_limit

QUANTITY_TYPE = "DECIMAL(38, 12)"

# SPEC 2 limits: no sum of quantities can overflow, no time outside these bounds is believed.
MAX_QUANTITY = "1000000000000000"  # 10^15
_ABOVE_MAX = "1000000000000000.000000000001::DECIMAL(38, 12)"  # the next value after 10^15
EARLIEST_EPOCH_US = 946_684_800_000_000  # 2000-01-01T00:00:00Z
MAX_LINE_BYTES = 16 * 2**20
MAX_JSON_DEPTH = 64

# Added to a json_transform structure, a DECIMAL field makes DuckDB read every number of the
# text as its raw digits, so the JSON values it returns keep each number's exact text (without it,
# a number with more than 17 significant digits comes back rounded through a binary double).
EXACT_NUMBERS = '"~meterline/exact numbers": "DECIMAL(1, 0)"'

# How OTLP attribute values are read (with EXACT_NUMBERS in the same transform).
OTLP_VALUE = (
    '{"stringValue": "JSON", "intValue": "JSON", "doubleValue": "JSON", "boolValue": "JSON"}'
)

# A numeric string: optional plus sign, digits with an optional point, optional exponent.
_UNSIGNED_TEXT = r'^" *([+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?) *"$'
# The ISO-8601 / 'YYYY-MM-DD HH:MM:SS[.fff]' forms SPEC 2 accepts, with an offset within ±14:00.
# Words DuckDB would accept ('epoch', 'infinity'), zone names and offsets beyond 14:00 do not match.
_ISO_TIME = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"([Zz]|[+-]((0[0-9]|1[0-3])(:?[0-5][0-9])?|14(:?00)?))?)?"
)


def _nesting_at_most(levels: int) -> str:
    """A regular expression that matches a whole JSON text exactly when its objects and arrays
    nest at most `levels` deep (brackets inside strings do not count). Nesting bounded by a
    number is a regular language: RE2 checks it in one linear pass, with no recursion and no
    stack, however deep the text goes."""
    other = r'(?:"(?:[^"\\]|\\.)*"|[^"\[\]{}])'  # a string, or any non-bracket character
    level = f"{other}*"
    for _ in range(levels):
        level = rf"(?:{other}|[\[{{]{level}[\]}}])*"
    return level


_NESTING_WITHIN_LIMIT = _nesting_at_most(MAX_JSON_DEPTH)

MACROS = f"""
-- Fields are read from the JSON text of their value (minified, so its first character tells a
-- number from a string), which is much cheaper than json_type or `->>`, each of which parses the
-- value again. A string written with escape sequences is therefore not read as a number or time.
-- The exact text of a JSON number or numeric string without a minus sign; NULL for anything
-- else. A number's text is its raw digits when the JSON value came from a transform with
-- EXACT_NUMBERS. A minus sign makes any quantity negative (bad), even `-0`.
CREATE OR REPLACE MACRO ml_unsigned_text(v) AS (
    CASE WHEN left(CAST(v AS VARCHAR), 1) BETWEEN '0' AND '9' THEN CAST(v AS VARCHAR)
         WHEN left(CAST(v AS VARCHAR), 1) = '"'
             THEN nullif(regexp_extract(CAST(v AS VARCHAR), '{_UNSIGNED_TEXT}', 1), '')
    END
);
-- exact decimal of a number text, rounded half away from zero to 12 places (DuckDB's cast reads
-- the digits and the exponent exactly); a value too small for the cast's exponent range is 0
CREATE OR REPLACE MACRO ml_text_decimal(t) AS (
    coalesce(TRY_CAST(t AS {QUANTITY_TYPE}),
             CASE WHEN regexp_full_match(t, '[+]?0*[0-9]{{0,20}}(\\.[0-9]*)?[eE]-[0-9]{{4,}}')
                  THEN 0::{QUANTITY_TYPE} END)
);
-- a quantity, token count or cost: an exact decimal, not negative, at most 10^15; NULL for
-- anything else (NaN, inf, bool, ...). Written with a single reference to the value.
CREATE OR REPLACE MACRO ml_quantity(v) AS (
    nullif(least(ml_text_decimal(ml_unsigned_text(v)), {_ABOVE_MAX}), {_ABOVE_MAX})
);
-- true when a field is present and not JSON null
CREATE OR REPLACE MACRO ml_present(v) AS (v IS NOT NULL AND CAST(v AS VARCHAR) <> 'null');
-- a field that is present but not a usable quantity
CREATE OR REPLACE MACRO ml_bad_quantity(v) AS (ml_present(v) AND ml_quantity(v) IS NULL);
-- a time SPEC 2 believes: finite and not before 2000-01-01T00:00Z (later bounds are the
-- future_timestamp rule's). A one-element list filter evaluates `t` once; TIMESTAMPTZ constants
-- depend on the session's time zone and would be re-evaluated on every row.
CREATE OR REPLACE MACRO ml_time_in_bounds(t) AS (
    list_filter([t], lambda x: isfinite(x) AND epoch_us(x) >= {EARLIEST_EPOCH_US})[1]
);
-- epoch microseconds -> TIMESTAMPTZ, NULL when out of range
CREATE OR REPLACE MACRO ml_epoch_us(us) AS (
    ml_time_in_bounds(TRY(make_timestamptz(CAST(us AS BIGINT))))
);
-- every timestamp form of SPEC 2 except OTLP nanos: ISO-8601 strings (Z, offset within ±14:00,
-- no zone = UTC), 'YYYY-MM-DD HH:MM:SS[.fff]', epoch milliseconds (integer or all-digit string),
-- Firestore objects (_seconds+_nanoseconds or seconds+nanos). Words ('epoch', 'infinity') and
-- zone names are not among them.
CREATE OR REPLACE MACRO ml_timestamp(v) AS (
    CASE WHEN regexp_full_match(CAST(v AS VARCHAR), '" *({_ISO_TIME}) *"')
             THEN ml_time_in_bounds(TRY_CAST(v ->> '$' AS TIMESTAMPTZ))
         WHEN regexp_full_match(CAST(v AS VARCHAR), '"? *-?[0-9]+ *"?')
             THEN ml_epoch_us(TRY_CAST(trim(v ->> '$') AS HUGEINT) * 1000)
         WHEN left(CAST(v AS VARCHAR), 1) = '{{' THEN ml_epoch_us(
            TRY_CAST(trim(coalesce(v ->> '_seconds', v ->> 'seconds')) AS HUGEINT) * 1000000
            + coalesce(TRY_CAST(trim(coalesce(v ->> '_nanoseconds', v ->> 'nanos')) AS HUGEINT), 0)
              // 1000)
         WHEN regexp_full_match(CAST(v AS VARCHAR), '-?[0-9][0-9.eE+-]*')
             THEN ml_epoch_us(TRY_CAST(TRY_CAST(CAST(v AS VARCHAR) AS DOUBLE) * 1000 AS HUGEINT))
    END
);
-- OTLP '...UnixNano' as an integer or a decimal string
CREATE OR REPLACE MACRO ml_unix_nano(v) AS (
    CASE WHEN regexp_full_match(CAST(v AS VARCHAR), '"? *-?[0-9]+ *"?')
         THEN ml_epoch_us(TRY_CAST(trim(v ->> '$') AS HUGEINT) // 1000) END
);
-- a tenant id that can be billed (SPEC 2.5): present, not only whitespace (any Unicode space,
-- tabs included), no control character (NUL included), at most 256 UTF-8 bytes; else NULL
CREATE OR REPLACE MACRO ml_tenant(t) AS (
    CASE WHEN strlen(t) > 256 THEN NULL
         WHEN regexp_matches(t, '^[\\s\\p{{Z}}]*$|\\p{{Cc}}') THEN NULL
         ELSE t END
);
-- the value of an OTLP attribute list entry (string, int, double and bool values): attribute
-- lists are read with OTLP_VALUE, so each kind is JSON with the exact digits of its number
CREATE OR REPLACE MACRO ml_otlp_value(attrs, k) AS (
    list_extract(list_filter(attrs, lambda a: a.key = k), 1).value
);
CREATE OR REPLACE MACRO ml_otlp_json(val) AS (
    coalesce(val.stringValue, val.intValue, val.doubleValue, val.boolValue)
);
CREATE OR REPLACE MACRO ml_otlp_string(attrs, k) AS (ml_otlp_json(ml_otlp_value(attrs, k)) ->> '$');
-- a line SPEC 2 reads as JSON at all: at most 16 MiB, and valid JSON nested at most 64 levels.
-- The depth is only checked for lines with more than 64 opening brackets.
CREATE OR REPLACE MACRO ml_readable_json(raw) AS (
    CASE WHEN strlen(raw) > {MAX_LINE_BYTES} THEN false
         WHEN NOT json_valid(raw) THEN false
         WHEN strlen(raw) - strlen(replace(replace(raw, '[', ''), '{{', '')) <= {MAX_JSON_DEPTH}
             THEN true
         ELSE regexp_full_match(raw, '{_NESTING_WITHIN_LIMIT}') END
);
"""


def connect_for_ingest(threads: int | None = None, share: int = 1) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection in UTC with the Meterline parsing macros.

    `threads`: how many threads DuckDB may use (default one per core); `share`: how many such
    connections run at once, which split the memory limit. Past it DuckDB spills to the system's
    temporary folder (not to `./.tmp`, its default for in-memory databases).
    """
    config = {
        "TimeZone": "UTC",
        "autoinstall_known_extensions": False,
        "memory_limit": duckdb_memory_limit(share),
        "temp_directory": str(Path(tempfile.gettempdir()) / "meterline-duckdb"),
    }
    if threads:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    con.execute(MACROS)
    return con
