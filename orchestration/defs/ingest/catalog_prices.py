"""The catalog's model_prices as a bronze Parquet file that dbt reads as a source."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from orchestration.core.sql_text import sql_literal

_PRICE = pa.decimal128(38, 12)
_SCHEMA = pa.schema(
    [
        ("model", pa.string()),
        # the model's position in the catalog (its first entry): the first matching pattern wins
        ("model_order", pa.int64()),
        ("match", pa.string()),
        ("provider", pa.string()),
        ("input_per_million", _PRICE),
        ("output_per_million", _PRICE),
        ("cache_read_per_million", _PRICE),
        ("cache_write_per_million", _PRICE),
        ("effective_from", pa.date32()),
    ]
)


def write_model_prices(catalog, bronze_root: Path) -> int:
    """Overwrite `bronze/catalog/model_prices.parquet` with the catalog's prices; returns the count.

    Cache prices are written resolved (an entry without them charges its input price), and
    every entry of a model carries the model's `match` pattern and catalog position.
    """
    prices = catalog.model_prices
    order: dict[str, int] = {}
    for price in prices:
        order.setdefault(price.model, len(order))
    patterns = catalog.model_patterns
    table = pa.table(
        {
            "model": [p.model for p in prices],
            "model_order": [order[p.model] for p in prices],
            "match": [patterns.get(p.model) for p in prices],
            "provider": [p.provider for p in prices],
            "input_per_million": [p.input_per_million for p in prices],
            "output_per_million": [p.output_per_million for p in prices],
            "cache_read_per_million": [p.cache_read_price for p in prices],
            "cache_write_per_million": [p.cache_write_price for p in prices],
            "effective_from": [p.effective_from for p in prices],
        },
        schema=_SCHEMA,
    )
    target = bronze_root / "catalog" / "model_prices.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, target)
    return len(prices)


def prices_sha(bronze_root: Path) -> str:
    """A hash of the provider prices' rows (not of the Parquet bytes, which may vary by writer)."""
    path = bronze_root / "catalog" / "model_prices.parquet"
    if not path.exists():
        return ""
    with duckdb.connect() as con:
        rows = con.execute(
            f"SELECT * FROM read_parquet({sql_literal(path)}) ORDER BY ALL"
        ).fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()
