"""Running Dagster jobs for the `meterline` CLI: the instance, the home lock, recovery of runs
left by dead processes, the terminal's progress line and the one-line failure reports."""
