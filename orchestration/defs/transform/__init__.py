"""dbt (staging -> intermediate -> marts) as Dagster assets; dbt tests become asset checks."""
