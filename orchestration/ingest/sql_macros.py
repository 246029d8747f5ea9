"""DuckDB macros that turn raw JSON values into typed values, exactly as SPEC section 2 reads them.

Each macro takes a JSON value (or NULL when the field is absent) and returns NULL when the value
cannot be used, so the caller can name the quarantine reason.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from orchestration.settings import duckdb_memory_limit

QUANTITY_TYPE = "DECIMAL(38, 12)"

MACROS = f"""
-- a JSON number or numeric string as an exact decimal; NULL for anything else (NaN, inf, bool, ...)
CREATE OR REPLACE MACRO ml_decimal(v) AS (
    CASE WHEN json_type(v) IN ('UBIGINT', 'BIGINT', 'DOUBLE', 'VARCHAR')
         THEN TRY_CAST(trim(v ->> '$') AS {QUANTITY_TYPE}) END
);
-- a quantity, token count or cost: an exact decimal that is not negative
CREATE OR REPLACE MACRO ml_quantity(v) AS (
    CASE WHEN ml_decimal(v) >= 0 THEN ml_decimal(v) END
);
-- true when a field is present and not JSON null
CREATE OR REPLACE MACRO ml_present(v) AS (v IS NOT NULL AND json_type(v) <> 'NULL');
-- a field that is present but not a usable quantity
CREATE OR REPLACE MACRO ml_bad_quantity(v) AS (ml_present(v) AND ml_quantity(v) IS NULL);
-- epoch microseconds -> TIMESTAMPTZ, NULL when out of range
CREATE OR REPLACE MACRO ml_epoch_us(us) AS (TRY(make_timestamptz(CAST(us AS BIGINT))));
-- every timestamp form of SPEC 2 except OTLP nanos: ISO-8601 (Z, offset, no zone = UTC),
-- 'YYYY-MM-DD HH:MM:SS[.fff]', epoch milliseconds, Firestore objects (_seconds+_nanoseconds or seconds+nanos)
CREATE OR REPLACE MACRO ml_timestamp(v) AS (
    CASE json_type(v)
        WHEN 'VARCHAR' THEN
            CASE WHEN regexp_full_match(trim(v ->> '$'), '-?[0-9]+')
                 THEN ml_epoch_us(TRY_CAST(trim(v ->> '$') AS HUGEINT) * 1000)
                 ELSE TRY_CAST(v ->> '$' AS TIMESTAMPTZ) END
        WHEN 'UBIGINT' THEN ml_epoch_us(TRY_CAST(v ->> '$' AS HUGEINT) * 1000)
        WHEN 'BIGINT' THEN ml_epoch_us(TRY_CAST(v ->> '$' AS HUGEINT) * 1000)
        WHEN 'DOUBLE' THEN ml_epoch_us(TRY_CAST(TRY_CAST(v ->> '$' AS DOUBLE) * 1000 AS HUGEINT))
        WHEN 'OBJECT' THEN ml_epoch_us(
            TRY_CAST(trim(coalesce(v ->> '_seconds', v ->> 'seconds')) AS HUGEINT) * 1000000
            + coalesce(TRY_CAST(trim(coalesce(v ->> '_nanoseconds', v ->> 'nanos')) AS HUGEINT), 0)
              // 1000)
    END
);
-- OTLP '...UnixNano' as an integer or a decimal string
CREATE OR REPLACE MACRO ml_unix_nano(v) AS (
    CASE WHEN json_type(v) IN ('UBIGINT', 'BIGINT', 'VARCHAR')
         THEN ml_epoch_us(TRY_CAST(trim(v ->> '$') AS HUGEINT) // 1000) END
);
-- a tenant id that is absent, null or empty counts as missing
CREATE OR REPLACE MACRO ml_tenant(t) AS (CASE WHEN trim(t) <> '' THEN t END);
-- the value of an OTLP attribute list entry, as JSON (string, int, double and bool values)
CREATE OR REPLACE MACRO ml_otlp_value(attrs, k) AS (
    list_extract(list_filter(attrs, lambda a: a.key = k), 1).value
);
CREATE OR REPLACE MACRO ml_otlp_json(val) AS (
    coalesce(val -> 'stringValue', val -> 'intValue', val -> 'doubleValue', val -> 'boolValue')
);
CREATE OR REPLACE MACRO ml_otlp_string(attrs, k) AS (ml_otlp_json(ml_otlp_value(attrs, k)) ->> '$');
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
