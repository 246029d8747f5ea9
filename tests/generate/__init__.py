"""Tests of the raw-data generator (orchestration.generate)."""
