"""The column that places a row of a warehouse or published table in time.

Incremental builds replace whole UTC days or months of it (dbt_project/macros/incremental.sql),
the reconciliation rules look at the windows a build replaced, and publishing writes one Parquet
file per month of it. One map, so the three always agree on where a row lies.
"""

TIME_COLUMNS = {
    # items and records, by the time of the usage
    "int_events_copies_classified": "event_time",
    "int_usage_logs_copies_classified": "event_time",
    "int_sessions_copies_classified": "event_time",
    "int_traces_copies_classified": "start_time",
    "int_spans_costed": "start_time",
    "int_usage_logs_costed": "event_time",
    "int_provider_costs": "event_time",
    "int_usage_records_unioned": "event_time",
    "int_traces_assembled": "started_at",
    "fct_usage_records": "event_time",
    "fct_trace_sessions": "started_at",
    # marts by usage day or month
    "tenant_daily_usage": "usage_date",
    "agent_daily_stats": "usage_date",
    "team_daily_stats": "usage_date",
    "platform_daily_stats": "usage_date",
    "platform_daily_cost": "usage_date",
    "tenant_monthly_usage": "usage_month",
    "feature_monthly_usage": "usage_month",
    "tenant_monthly_margin": "usage_month",
    # by delivery, and the invoice tables by billing period
    "quarantine": "delivery_date",
    "fct_invoice_lines": "period",
    "fct_invoice_records": "month",
}
