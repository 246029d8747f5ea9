"""Raw landing zone and the append-only bronze layer, partitioned by delivery date."""

from collections import Counter
from datetime import date

import dagster as dg
from dagster import AssetExecutionContext

from orchestration.core.partitions import delivery_partitions
from orchestration.core.resources import MeterlineResource
from orchestration.core.run_state import mark_run_started
from orchestration.defs.ingest.bronze import ingest_deliveries
from orchestration.defs.ingest.raw_files import SOURCES

RAW_SOURCES = [
    dg.AssetSpec(
        ["raw", source],
        description=f"Raw `{source}` deliveries: raw/{source}/<delivery-date>/*.jsonl(.gz). "
        "Written by the products, never by Meterline.",
        group_name="raw",
        kinds={"json"},
    )
    for source in SOURCES
]

_BRONZE_SPECS = [
    *(
        dg.AssetSpec(
            ["bronze", source],
            deps=[["raw", source]],
            description=f"Every usable `{source}` item, typed, duplicates included (append-only).",
            group_name="bronze",
            kinds={"parquet"},
        )
        for source in SOURCES
    ),
    dg.AssetSpec(
        ["bronze", "quarantine"],
        deps=[["raw", s] for s in SOURCES],
        description="Items that cannot be used, with their reason, file, line and raw text.",
        group_name="bronze",
        kinds={"parquet"},
    ),
    dg.AssetSpec(
        ["bronze", "files"],
        deps=[["raw", s] for s in SOURCES],
        description="One row per ingested raw file: lines and items read, SHA-256.",
        group_name="bronze",
        kinds={"parquet"},
    ),
]


@dg.multi_asset(
    specs=_BRONZE_SPECS,
    partitions_def=delivery_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb_writer",
    name="bronze_ingest",
)
def bronze_ingest(context: AssetExecutionContext, meterline: MeterlineResource):
    """Ingest every raw file of the delivery dates in the partition window not yet in bronze."""
    layout = meterline.layout
    mark_run_started(layout, context.run.run_id)
    days = [date.fromisoformat(key) for key in context.partition_keys]
    audits = ingest_deliveries(layout.raw, layout.bronze, days)
    new = [a for a in audits if not a.skipped]
    rows = [f"| {a.file} | {a.lines_read} | {a.items_read} | {a.quarantined} |" for a in new]
    table = "| file | lines | items | quarantined |\n|---|---|---|---|\n" + "\n".join(rows)
    items = Counter()
    quarantined = Counter()
    for a in new:
        items[a.source] += a.items_read
        quarantined[a.source] += a.quarantined
    context.log.info(f"ingested {len(new)} new raw files, skipped {len(audits) - len(new)}")
    for source in SOURCES:
        yield dg.MaterializeResult(
            asset_key=["bronze", source],
            metadata={
                "new_files": sum(1 for a in new if a.source == source),
                "items_read": items[source],
                "quarantined": quarantined[source],
            },
        )
    yield dg.MaterializeResult(
        asset_key=["bronze", "quarantine"],
        metadata={"quarantined": sum(quarantined.values())},
    )
    yield dg.MaterializeResult(
        asset_key=["bronze", "files"],
        metadata={
            "new_files": len(new),
            "skipped_files": len(audits) - len(new),
            "ingest_audit": dg.MetadataValue.md(table if rows else "no new raw files"),
        },
    )


@dg.asset(
    key=["bronze", "model_prices"],
    group_name="bronze",
    kinds={"parquet"},
    pool="duckdb_writer",
)
def catalog_model_prices(
    context: AssetExecutionContext, meterline: MeterlineResource
) -> dg.MaterializeResult:
    """The catalog's model_prices (SPEC 3), for provider cost derivation in dbt."""
    from orchestration.defs.ingest.catalog_prices import prices_sha, write_model_prices

    layout = meterline.layout
    catalog = meterline.load_catalog()
    before = prices_sha(layout.bronze)
    count = write_model_prices(catalog, layout.bronze)
    if prices_sha(layout.bronze) != before:
        # new prices change what the warehouse must hold; the same prices change nothing
        mark_run_started(layout, context.run.run_id)
    return dg.MaterializeResult(metadata={"model_prices": count})
