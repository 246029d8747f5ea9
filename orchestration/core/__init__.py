"""What every step shares and nothing Dagster-specific needs to know about the flow: the home
folder's layout and settings, SQL literals, the Meterline resource, the partitions and the state
of the last pipeline run (which owns the "checks failed" state)."""
