"""Dagster assets, one module per step of the flow: raw -> bronze -> dbt -> publish -> invoices."""
