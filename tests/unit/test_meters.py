"""The meter list has one home, dbt_project.yml's vars; everything else reads it from there."""

import json

from orchestration.billing.catalog import load_catalog
from orchestration.core.meters import EVENT_METERS, METERS
from orchestration.core.settings import GX_PROJECT_DIR

# SPEC 2: the four event meters, the three trace meters and the four token-detail meters
SPEC_METERS = {
    "api_call", "voice_minute", "ai_query", "storage_mb",
    "traces", "tool_calls", "llm_input_tokens",
    "llm_output_tokens", "llm_cache_read_tokens", "llm_cache_write_tokens", "llm_reasoning_tokens",
}  # fmt: skip


def test_the_meters_are_those_of_spec_2():
    assert set(METERS) == SPEC_METERS and len(METERS) == len(SPEC_METERS)
    assert set(EVENT_METERS) == {"api_call", "voice_minute", "ai_query", "storage_mb"}


def test_the_default_catalog_prices_every_meter_and_no_other(tmp_path):
    assert set(load_catalog(None, tmp_path).meters) == set(METERS)


def test_no_gx_suite_repeats_the_meter_list():
    for suite in (GX_PROJECT_DIR / "expectations").glob("*.json"):
        for expectation in json.loads(suite.read_text())["expectations"]:
            if expectation["kwargs"].get("column") == "meter":
                assert "value_set" not in expectation["kwargs"] or expectation["kwargs"][
                    "value_set"
                ] == {"$PARAMETER": "meters"}, suite.name
