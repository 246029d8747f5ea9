"""The Dagster definitions, one package per step of SPEC's flow, each holding its assets, checks,
schedules and sensors next to the logic they run (merged in `orchestration.definitions`):

    pull/       group `pull`                          PostgreSQL sources -> raw files (SPEC 2.7)
    ingest/     groups `raw`, `bronze`                raw deliveries -> bronze Parquet (SPEC 2)
    transform/  groups `staging`, `intermediate`, `marts`   the dbt project
    checks/     (checks on the marts, no group)       reconciliations that block publish
    publish/    group `publish`                       write-audit-publish of the marts (SPEC 7)
    invoicing/  group `invoices`                      invoices and the invoice tables (SPEC 4-7)
"""
