"""The catalog's model_prices as a bronze Parquet file that dbt reads as a source."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

_SCHEMA = pa.schema(
    [
        ("model", pa.string()),
        ("input_per_million", pa.decimal128(38, 12)),
        ("output_per_million", pa.decimal128(38, 12)),
        ("effective_from", pa.date32()),
    ]
)


def write_model_prices(catalog, bronze_root: Path) -> int:
    """Overwrite `bronze/catalog/model_prices.parquet` with the catalog's prices; returns the count."""
    prices = catalog.model_prices
    table = pa.table(
        {
            "model": [p.model for p in prices],
            "input_per_million": [p.input_per_million for p in prices],
            "output_per_million": [p.output_per_million for p in prices],
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
