"""A throw-away METERLINE_HOME driven without Dagster: raw files -> bronze -> `dbt run` -> marts.

Used by the dedup / late-data integration tests. Raw files are written by hand, each delivery is
ingested with `ingest_delivery` (in whatever order a test wants), the catalog's model prices are
written to bronze, and dbt builds the warehouse, which is then read read-only.

All dbt invocations of one pytest process share one target directory (partial parsing makes
the later runs faster) in a private temp folder, so concurrent pytest sessions never share it.
"""

from __future__ import annotations

import atexit
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from orchestration.billing.catalog import load_catalog, parse_catalog
from orchestration.core.settings import HomeLayout
from orchestration.defs.ingest.bronze import FileAudit, ingest_delivery
from orchestration.defs.ingest.catalog_prices import write_model_prices
from orchestration.defs.transform.build_batch import commit_build, plan_build, write_batch

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO / "dbt_project"
DBT = Path(sys.executable).with_name("dbt")

_TARGET: Path | None = None


def dbt_target_dir() -> Path:
    """One dbt target dir per pytest process (removed at exit)."""
    global _TARGET
    if _TARGET is None:
        _TARGET = Path(tempfile.mkdtemp(prefix="meterline-test-dbt-"))
        atexit.register(shutil.rmtree, _TARGET, True)
    return _TARGET


# ---------------------------------------------------------------------------------------------
# raw line builders


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def epoch_seconds(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


def unix_nano(iso: str) -> str:
    """OTLP `...UnixNano` as a decimal string."""
    moment = datetime.fromisoformat(iso)
    return str(int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000)


def otlp_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": str(value)}


def otlp_attrs(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": otlp_value(v)} for k, v in attrs.items()]


_ABSENT = object()


def otlp_trace_id(name: str) -> str:
    """A valid 16-byte OTLP traceId (32 lower-case hex digits) for a readable test name: its UTF-8
    bytes in hex, zero-padded on the left, so `readable_id` turns it back into the name."""
    if re.fullmatch(r"[0-9a-f]{32}", name):
        return name
    return name.encode().hex().rjust(32, "0")


def otlp_span_id(name: str) -> str:
    """A valid 8-byte OTLP spanId for a readable test name (names longer than 8 bytes hashed)."""
    if re.fullmatch(r"[0-9a-f]{16}", name):
        return name
    data = name.encode()
    return data.hex().rjust(16, "0") if len(data) <= 8 else hashlib.sha256(data).hexdigest()[:16]


def readable_id(text: str) -> str:
    """`text` with every id made by `otlp_trace_id` or `otlp_span_id` turned back into its name."""

    def name(match: re.Match) -> str:
        digits = match.group(0)
        stripped = re.sub(r"^(00)+", "", digits)
        try:
            decoded = bytes.fromhex(stripped).decode()
        except (ValueError, UnicodeDecodeError):
            return digits
        return decoded if decoded.isprintable() else digits

    return re.sub(r"\b([0-9a-f]{32}|[0-9a-f]{16})\b", name, text)


def span(
    trace_id: str,
    span_id: str,
    start: str,
    *,
    parent: Any = _ABSENT,
    name: str = "chat",
    status: int | None = None,
    tenant: str | None = None,
    op: str | None = None,
    model: str | None = None,
    tokens: tuple[int, int] | None = None,
    cost: float | None = None,
) -> dict[str, Any]:
    """One OTLP span (`parent` absent unless given; "" is also a root); readable ids are turned
    into valid OTLP ids (`otlp_trace_id`, `otlp_span_id`)."""
    attrs: dict[str, Any] = {}
    if tenant is not None:
        attrs["tenant.id"] = tenant
    if op is not None:
        attrs["gen_ai.operation.name"] = op
    if model is not None:
        attrs["gen_ai.request.model"] = model
    if tokens is not None:
        attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"] = tokens
    if cost is not None:
        attrs["gen_ai.usage.cost"] = cost
    doc: dict[str, Any] = {"traceId": otlp_trace_id(trace_id), "spanId": otlp_span_id(span_id)}
    if parent is not _ABSENT:
        doc["parentSpanId"] = otlp_span_id(parent) if parent else parent
    doc["name"] = name
    doc["startTimeUnixNano"] = unix_nano(start)
    doc["endTimeUnixNano"] = unix_nano(start)  # zero-length spans are enough here
    if status is not None:
        doc["status"] = {"code": status}
    doc["attributes"] = otlp_attrs(attrs)
    return doc


def otlp_export(*parts: tuple[dict[str, Any], list[dict[str, Any]]]) -> dict[str, Any]:
    """An ExportTraceServiceRequest: one resourceSpans entry per (resource attrs, spans) part."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": otlp_attrs(resource)},
                "scopeSpans": [{"scope": {"name": "agent"}, "spans": spans}],
            }
            for resource, spans in parts
        ]
    }


# ---------------------------------------------------------------------------------------------
# the home


class Home:
    """One METERLINE_HOME under a temp folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.raw = root / "raw"
        self.bronze = root / "bronze"
        self.warehouse = root / "warehouse" / "build.duckdb"

    def deliver(
        self, source: str, day: str | date, name: str, lines: list[Any], *, gz: bool = False
    ) -> Path:
        """Write one raw file; dict lines are rendered as compact JSON, str lines as they are."""
        folder = self.raw / source / str(day)
        folder.mkdir(parents=True, exist_ok=True)
        text = "".join((line if isinstance(line, str) else compact(line)) + "\n" for line in lines)
        path = folder / name
        data = text.encode()
        path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
        return path

    def ingest(self, *days: str | date) -> list[FileAudit]:
        audits: list[FileAudit] = []
        for day in days:
            day = date.fromisoformat(day) if isinstance(day, str) else day
            audits += ingest_delivery(self.raw, self.bronze, day)
        return audits

    def write_catalog(self, text: str | None = None) -> None:
        """`catalog.yml` in the home (validated first), then its model prices into bronze."""
        if text is not None:
            parse_catalog(text)
            (self.root / "catalog.yml").write_text(text, encoding="utf-8")
        write_model_prices(load_catalog(None, self.root), self.bronze)

    def dbt_run(self, full_refresh: bool = False) -> None:
        """`dbt run` as `meterline run` does it: incremental on the files not built yet (SPEC 9),
        the batch committed at once (there is no publish step here)."""
        if not (self.bronze / "catalog" / "model_prices.parquet").exists():
            self.write_catalog()
        self.warehouse.parent.mkdir(parents=True, exist_ok=True)
        layout = HomeLayout(self.root)
        plan = plan_build(layout, full_refresh=full_refresh)
        write_batch(layout, plan)
        extra = ["--full-refresh"] if plan.full_refresh else []
        if plan.reprice:
            extra += ["--vars", '{"reprice": true}']
        result = self._dbt("run", *extra)
        assert result.returncode == 0, f"dbt run failed:\n{result.stdout[-4000:]}\n{result.stderr}"
        commit_build(layout)

    def dbt_test(self) -> set[str]:
        """`dbt test` on the warehouse as it is now, as the build runs the tests after the last
        `dbt_run` (windowed marts: the days it replaced); the names of the tests that failed."""
        result = self._dbt("test")
        results = json.loads((dbt_target_dir() / "target" / "run_results.json").read_text())
        failed = {
            r["unique_id"].split(".")[2]
            for r in results["results"]
            if r["unique_id"].startswith("test.") and r["status"] != "pass"
        }
        assert failed or result.returncode == 0, f"dbt test failed:\n{result.stdout[-4000:]}"
        return failed

    def _dbt(self, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
        target = dbt_target_dir()
        env = {
            **os.environ,
            "METERLINE_HOME": str(self.root),
            "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
        return subprocess.run(
            [
                str(DBT),
                command,
                "--project-dir",
                str(DBT_PROJECT),
                "--profiles-dir",
                str(DBT_PROJECT),
                "--target-path",
                str(target / "target"),
                "--log-path",
                str(target / "logs"),
                "--no-use-colors",
                *extra,
            ],
            env=env,
            cwd=str(target),
            capture_output=True,
            text=True,
            check=False,
        )

    def connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(
            str(self.warehouse),
            read_only=True,
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )
        con.execute("SET TimeZone = 'UTC'")
        return con

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        con = self.connect()
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        con = self.connect()
        try:
            rel = con.execute(sql, params or [])
            columns = [d[0] for d in rel.description]
            return [dict(zip(columns, row, strict=True)) for row in rel.fetchall()]
        finally:
            con.close()

    def bronze_digest(self) -> dict[str, str]:
        """SHA-256 of every bronze file, by path: equal digests = bronze unchanged."""
        return {
            str(p.relative_to(self.bronze)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.bronze.rglob("*"))
            if p.is_file()
        }


def monthly_usage(home: Home) -> dict[tuple[str, str, str], Any]:
    """tenant_monthly_usage as {(usage_month, tenant, meter): quantity}."""
    return {
        (str(month), tenant, meter): qty
        for month, tenant, meter, qty in home.query(
            "SELECT usage_month, tenant_id, meter, quantity FROM tenant_monthly_usage"
        )
    }


def ingest_audit(home: Home) -> dict[str, tuple[int, ...]]:
    """ingest_audit as {file: (lines_read, items_read, accepted, duplicates, conflicts,
    quarantined)}."""
    return {
        file: tuple(int(v) for v in rest)
        for file, *rest in home.query(
            "SELECT file, lines_read, items_read, accepted, duplicates, conflicts, quarantined "
            "FROM ingest_audit"
        )
    }
