"""End-to-end tests of the meterline CLI on generated data."""
