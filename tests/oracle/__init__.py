"""Test oracles written from SPEC alone, shared by every test that needs one."""
