"""Pulling usage from application databases into the landing zone (SPEC 2.7)."""
