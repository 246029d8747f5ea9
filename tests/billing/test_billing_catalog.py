"""Catalog parsing, validation messages, loading precedence and plan/model-price lookups."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestration.billing.catalog import (
    DEFAULT_CATALOG_PATH,
    CatalogError,
    load_catalog,
    parse_catalog,
)


def test_spec_catalog_values_are_exact(spec_catalog):
    growth = spec_catalog.plans["growth"]
    assert growth.monthly_fee == Decimal("500.00")
    assert growth.prices["traces"].unit_price == Decimal("0.0005")
    assert growth.prices["traces"].included == Decimal(250000)
    assert [t.up_to for t in growth.prices["api_call"].tiers] == [Decimal(100000), None]
    assert spec_catalog.model_prices[0].effective_from == date(2025, 9, 29)
    assert spec_catalog.subscriptions[1].plan is None


def test_yaml_floats_become_their_decimal_text_not_binary_values(spec_catalog_yaml):
    text = spec_catalog_yaml.replace('unit_price: "0.0005"', "unit_price: 0.1")
    price = parse_catalog(text).plans["growth"].prices["traces"].unit_price
    # Decimal(0.1) would be 0.1000000000000000055511151231257827...; str() first keeps 0.1
    assert price == Decimal("0.1")
    assert str(price) == "0.1"


def test_default_catalog_carries_the_spec_tiers_and_prices(tmp_path):
    catalog = load_catalog(None, tmp_path)
    fees = {plan_id: plan.monthly_fee for plan_id, plan in catalog.plans.items()}
    assert fees == {
        "starter": Decimal("250.00"),
        "growth": Decimal("500.00"),
        "business": Decimal("1000.00"),
        "enterprise": Decimal("3000.00"),
    }
    assert catalog.plans["enterprise"].volume_discounts
    for plan in catalog.plans.values():
        assert plan.prices["voice_minute"].unit_price == Decimal("0.02")
        assert plan.prices["ai_query"].unit_price == Decimal("0.05")
        assert plan.prices["storage_mb"].unit_price == Decimal("0.001")
    assert catalog.plans["starter"].prices["api_call"].unit_price == Decimal("0.01")
    assert catalog.plans["growth"].prices["api_call"].tiers[0].unit_price == Decimal("0.01")
    sonnet = catalog.model_price("claude-sonnet-4-5", date(2026, 10, 1))
    assert (sonnet.input_per_million, sonnet.output_per_million) == (Decimal(3), Decimal(15))
    assert catalog.default_plan == "starter"
    assert catalog.subscriptions == []


def test_load_catalog_prefers_path_then_home_then_default(tmp_path, spec_catalog_yaml):
    home = tmp_path / "home"
    home.mkdir()
    assert load_catalog(None, home).default_plan == "starter"  # shipped default

    (home / "catalog.yml").write_text(spec_catalog_yaml, encoding="utf-8")
    assert load_catalog(None, home).default_plan is None  # $METERLINE_HOME/catalog.yml

    explicit = tmp_path / "explicit.yml"
    explicit.write_text(spec_catalog_yaml.replace("default_plan: null", "default_plan: growth"))
    assert load_catalog(explicit, home).default_plan == "growth"  # --catalog


def test_load_catalog_reports_a_missing_file(tmp_path):
    with pytest.raises(CatalogError, match="cannot read the file"):
        load_catalog(tmp_path / "nope.yml", tmp_path)


def test_shipped_default_file_is_the_package_data_file():
    assert DEFAULT_CATALOG_PATH.name == "default_catalog.yml"
    assert DEFAULT_CATALOG_PATH.is_file()


Mutation = Callable[[dict[str, Any]], None]


def _growth(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["plans"]["growth"]


def _set_tiers(*bounds: int | None) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        tiers = [{"up_to": bound, "unit_price": "0.01"} for bound in bounds]
        _growth(doc)["prices"]["api_call"]["tiers"] = tiers

    return mutate


VALIDATION_CASES: list[tuple[str, Mutation, str]] = [
    (
        "unknown meter in plan prices",
        lambda d: _growth(d)["prices"].update(gpu_seconds={"included": 0, "unit_price": "1"}),
        "plans.growth.prices.gpu_seconds: unknown meter 'gpu_seconds'",
    ),
    (
        "non-numeric unit price",
        lambda d: _growth(d)["prices"]["traces"].update(unit_price="cheap"),
        "plans.growth.prices.traces.unit_price: must be a decimal number, got 'cheap'",
    ),
    (
        "boolean is not a number",
        lambda d: _growth(d)["prices"]["traces"].update(unit_price=True),
        "plans.growth.prices.traces.unit_price: must be a decimal number, got True",
    ),
    (
        "NaN price",
        lambda d: _growth(d)["prices"]["traces"].update(unit_price="NaN"),
        "plans.growth.prices.traces.unit_price: must be a finite decimal number",
    ),
    (
        "negative unit price",
        lambda d: _growth(d)["prices"]["traces"].update(unit_price="-0.0005"),
        "plans.growth.prices.traces.unit_price: must not be negative",
    ),
    (
        "negative tier price",
        lambda d: _growth(d)["prices"]["api_call"]["tiers"][1].update(unit_price="-1"),
        "plans.growth.prices.api_call.tiers[1].unit_price: must not be negative",
    ),
    (
        "negative monthly fee",
        lambda d: _growth(d).update(monthly_fee="-500.00"),
        "plans.growth.monthly_fee: must not be negative",
    ),
    (
        "fee below a cent",
        lambda d: _growth(d).update(monthly_fee="500.005"),
        "plans.growth.monthly_fee: must be a whole number of cents",
    ),
    (
        "negative included",
        lambda d: _growth(d)["prices"]["traces"].update(included=-1),
        "plans.growth.prices.traces.included: must not be negative",
    ),
    (
        "non-numeric percent",
        lambda d: _growth(d)["volume_discounts"][0].update(percent="five"),
        "plans.growth.volume_discounts[0].percent: must be a decimal number",
    ),
    (
        "percent above 100",
        lambda d: _growth(d)["volume_discounts"][1].update(percent="100.5"),
        "plans.growth.volume_discounts[1].percent: must be at most 100",
    ),
    (
        "negative from_amount",
        lambda d: _growth(d)["volume_discounts"][0].update(from_amount="-1.00"),
        "plans.growth.volume_discounts[0].from_amount: must not be negative",
    ),
    (
        "duplicate discount bracket",
        lambda d: _growth(d)["volume_discounts"][1].update(from_amount="1000.00"),
        "plans.growth.volume_discounts[1].from_amount: duplicate from_amount",
    ),
    (
        "negative minimum commitment",
        lambda d: _growth(d).update(minimum_commitment="-1"),
        "plans.growth.minimum_commitment: must not be negative",
    ),
    (
        "both unit_price and tiers",
        lambda d: _growth(d)["prices"]["api_call"].update(unit_price="0.01"),
        "plans.growth.prices.api_call: give exactly one of unit_price or tiers",
    ),
    (
        "neither unit_price nor tiers",
        lambda d: _growth(d)["prices"]["traces"].pop("unit_price"),
        "plans.growth.prices.traces: give exactly one of unit_price or tiers",
    ),
    (
        "tiers not ascending",
        _set_tiers(100000, 50000, None),
        "plans.growth.prices.api_call.tiers[1].up_to: tiers must be in ascending order",
    ),
    (
        "equal tier bounds",
        _set_tiers(100000, 100000, None),
        "plans.growth.prices.api_call.tiers[1].up_to: tiers must be in ascending order",
    ),
    (
        "unbounded tier before the last",
        _set_tiers(None, 100000, None),
        "plans.growth.prices.api_call.tiers[0].up_to: only the last tier may have up_to: null",
    ),
    (
        "bounded last tier",
        _set_tiers(100000, 200000),
        "plans.growth.prices.api_call.tiers[1].up_to: the last tier must have up_to: null",
    ),
    (
        "zero tier bound",
        _set_tiers(0, None),
        "plans.growth.prices.api_call.tiers[0].up_to: must be greater than 0",
    ),
    (
        "empty tiers",
        _set_tiers(),
        "plans.growth.prices.api_call.tiers: must list at least one tier",
    ),
    (
        "subscription starting mid-month",
        lambda d: d["subscriptions"][0].update(start=date(2026, 1, 15)),
        "subscriptions[0].start: must be the first day of a month, got 2026-01-15",
    ),
    (
        "subscription to an unknown plan",
        lambda d: d["subscriptions"][0].update(plan="platinum"),
        "subscriptions[0].plan: unknown plan 'platinum'",
    ),
    (
        "two subscriptions of a tenant starting the same day",
        lambda d: d["subscriptions"][1].update(start=date(2026, 1, 1)),
        "subscriptions[1]: duplicate (tenant_id, start)",
    ),
    (
        "default plan unknown",
        lambda d: d.update(default_plan="platinum"),
        "default_plan: unknown plan 'platinum'",
    ),
    (
        "lower-case currency",
        lambda d: d.update(currency="usd"),
        "currency: must be three upper-case letters (ISO 4217), got 'usd'",
    ),
    (
        "four-letter currency",
        lambda d: d.update(currency="USDT"),
        "currency: must be three upper-case letters (ISO 4217), got 'USDT'",
    ),
    (
        "negative grace period",
        lambda d: d.update(grace_period_days=-1),
        "grace_period_days: must not be negative",
    ),
    (
        "duplicate model price",
        lambda d: d["model_prices"].append(dict(d["model_prices"][0], input_per_million="2.5")),
        "model_prices[1].effective_from: duplicate (model, provider, effective_from)",
    ),
    (
        "unknown key in a plan",
        lambda d: _growth(d).update(colour="green"),
        "plans.growth.colour: unknown key",
    ),
    (
        "unknown top-level key",
        lambda d: d.update(invoice_footer="thanks"),
        "invoice_footer: unknown key",
    ),
    (
        "unknown key in a tier",
        lambda d: _growth(d)["prices"]["api_call"]["tiers"][0].update(upto=5),
        "plans.growth.prices.api_call.tiers[0].upto: unknown key",
    ),
    (
        "missing monthly fee",
        lambda d: _growth(d).pop("monthly_fee"),
        "plans.growth.monthly_fee: required key is missing",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(mutate, expected, id=rule) for rule, mutate, expected in VALIDATION_CASES],
)
def test_invalid_catalog_names_the_field(spec_catalog_yaml, mutate, expected):
    document = copy.deepcopy(yaml.safe_load(spec_catalog_yaml))
    mutate(document)
    with pytest.raises(CatalogError) as caught:
        parse_catalog(yaml.safe_dump(document), "bad.yml")
    assert any(expected in problem for problem in caught.value.problems)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("invalid catalog bad.yml:")


def test_every_broken_field_is_reported_at_once(spec_catalog_yaml):
    document = yaml.safe_load(spec_catalog_yaml)
    document["currency"] = "usd"
    document["plans"]["growth"]["monthly_fee"] = "-1"
    with pytest.raises(CatalogError) as caught:
        parse_catalog(yaml.safe_dump(document))
    assert len(caught.value.problems) == 2


def test_duplicate_yaml_key_is_rejected_not_silently_overwritten(spec_catalog_yaml):
    text = spec_catalog_yaml.replace(
        "plans:\n", "plans:\n  growth: {name: Old, monthly_fee: '1.00'}\n"
    )
    with pytest.raises(CatalogError, match="duplicate key 'growth'"):
        parse_catalog(text)


@pytest.mark.parametrize("text", ["- just\n- a list\n", "", "currency: [unclosed\n"])
def test_non_mapping_or_broken_yaml_is_rejected(text):
    with pytest.raises(CatalogError):
        parse_catalog(text)


@pytest.mark.parametrize(
    ("tenant", "period_start", "plan"),
    [
        ("acme", date(2025, 12, 1), None),  # has entries, none started: default_plan never applies
        ("acme", date(2026, 1, 1), "growth"),  # starts exactly on the period start
        ("acme", date(2026, 12, 1), "growth"),
        ("acme", date(2027, 1, 1), None),  # plan null = ended
        ("acme", date(2027, 6, 1), None),
        ("globex", date(2026, 10, 1), None),  # no entry at all -> default_plan (null here)
    ],
)
def test_plan_for_follows_the_latest_started_subscription(spec_catalog, tenant, period_start, plan):
    assert spec_catalog.plan_for(tenant, period_start) == plan


def test_default_plan_applies_only_to_tenants_without_any_subscription(spec_catalog_yaml):
    catalog = parse_catalog(spec_catalog_yaml.replace("default_plan: null", "default_plan: growth"))
    assert catalog.plan_for("globex", date(2026, 10, 1)) == "growth"
    assert catalog.plan_for("acme", date(2025, 12, 1)) is None
    assert catalog.plan_for("acme", date(2027, 1, 1)) is None


def test_plan_for_does_not_depend_on_subscription_order(spec_catalog_yaml):
    document = yaml.safe_load(spec_catalog_yaml)
    document["subscriptions"].reverse()
    catalog = parse_catalog(yaml.safe_dump(document))
    assert catalog.plan_for("acme", date(2026, 6, 1)) == "growth"
    assert catalog.plan_for("acme", date(2027, 2, 1)) is None


def test_subscribed_tenants_are_those_on_a_plan(spec_catalog_yaml):
    document = yaml.safe_load(spec_catalog_yaml)
    document["subscriptions"] += [
        {"tenant_id": "Zeta", "plan": "growth", "start": date(2026, 3, 1)},
        {"tenant_id": "later", "plan": "growth", "start": date(2026, 11, 1)},
    ]
    catalog = parse_catalog(yaml.safe_dump(document))
    assert catalog.subscribed_tenants(date(2026, 10, 1)) == ["Zeta", "acme"]  # 'Z' < 'a' in bytes
    assert catalog.subscribed_tenants(date(2027, 1, 1)) == ["Zeta", "later"]


def test_model_price_takes_the_latest_effective_price(spec_catalog_yaml):
    document = yaml.safe_load(spec_catalog_yaml)
    document["model_prices"].append(
        {
            "model": "claude-sonnet-4-5",
            "input_per_million": "2.50",
            "output_per_million": "12.50",
            "effective_from": date(2026, 6, 1),
        }
    )
    catalog = parse_catalog(yaml.safe_dump(document))
    assert catalog.model_price("claude-sonnet-4-5", date(2025, 9, 28)) is None
    assert catalog.model_price("claude-sonnet-4-5", date(2025, 9, 29)).input_per_million == 3
    assert catalog.model_price("claude-sonnet-4-5", date(2026, 5, 31)).input_per_million == 3
    june = catalog.model_price("claude-sonnet-4-5", date(2026, 6, 1))
    assert june.input_per_million == Decimal("2.50")
    assert catalog.model_price("gpt-4o-mini", date(2026, 6, 1)) is None


def test_load_catalog_reads_utf8_files(tmp_path: Path, spec_catalog_yaml):
    path = tmp_path / "catalog.yml"
    path.write_text(
        spec_catalog_yaml.replace("tenant_id: acme, plan: growth", "tenant_id: ñandú, plan: growth")
    )
    assert load_catalog(path, tmp_path).plan_for("ñandú", date(2026, 10, 1)) == "growth"


# ---- model prices: match patterns, providers, cache prices (SPEC 3)

PRICES = """\
currency: USD
meters: {llm_cache_read_tokens: {unit: token}}
plans:
  p: {name: P, monthly_fee: "0.00", prices: {llm_cache_read_tokens: {unit_price: "0.000001"}}}
model_prices:
  - {model: claude-sonnet-4-5, match: "claude-sonnet-4-5(-\\\\d{8})?", effective_from: 2025-09-29,
     input_per_million: "3.00", output_per_million: "15.00",
     cache_read_per_million: "0.30", cache_write_per_million: "3.75"}
  - {model: claude-sonnet-4-5, provider: AWS.Bedrock, effective_from: 2025-09-29,
     input_per_million: "3.30", output_per_million: "16.50", cache_read_per_million: "0.33"}
  - {model: claude-sonnet-4-5, provider: aws.bedrock, effective_from: 2026-06-01,
     input_per_million: "3.00", output_per_million: "15.00"}
  - {model: claude, match: "claude-.*", effective_from: 2025-01-01,
     input_per_million: "1", output_per_million: "1"}
  - {model: vertex-only, provider: vertex, effective_from: 2027-01-01,
     input_per_million: "1", output_per_million: "1"}
  - {model: vertex-only, effective_from: 2025-01-01, input_per_million: "2", output_per_million: "2"}
"""


def test_model_ids_resolve_exact_name_first_then_first_matching_pattern():
    catalog = parse_catalog(PRICES)
    assert catalog.resolve_model("claude-sonnet-4-5") == "claude-sonnet-4-5"
    assert catalog.resolve_model("claude-sonnet-4-5-20250929") == "claude-sonnet-4-5"
    # the pattern must match the whole id: a longer suffix falls to the next pattern
    assert catalog.resolve_model("claude-sonnet-4-5-2025") == "claude"
    assert catalog.resolve_model("claude") == "claude"  # exact name, although "claude-.*" fails
    assert catalog.resolve_model("gpt-4o") is None


def test_provider_entries_win_even_before_they_are_in_force():
    catalog = parse_catalog(PRICES)
    day = date(2026, 1, 15)
    # providers are compared case-insensitively; the Bedrock entry's cache write defaults to
    # its own input price
    bedrock = catalog.model_price("claude-sonnet-4-5-20250929", day, "aws.bedrock")
    assert (bedrock.input_per_million, bedrock.cache_read_price, bedrock.cache_write_price) == (
        Decimal("3.30"),
        Decimal("0.33"),
        Decimal("3.30"),
    )
    assert (
        catalog.model_price("claude-sonnet-4-5", date(2026, 6, 1), "AWS.BEDROCK").input_per_million
        == 3
    )
    assert catalog.model_price("claude-sonnet-4-5", day, "anthropic").input_per_million == 3
    assert catalog.model_price("claude-sonnet-4-5", day).cache_write_price == Decimal("3.75")
    assert catalog.model_price("vertex-only", day, "vertex") is None  # unpriced, not the default
    assert catalog.model_price("vertex-only", day, "other").input_per_million == 2


def test_catalog_cost_formula_is_exact():
    price = parse_catalog(PRICES).model_price("claude-sonnet-4-5", date(2026, 1, 15), "aws.bedrock")
    # ((10000 − 6000 − 2000) × 3.30 + 6000 × 0.33 + 2000 × 3.30 + 1000 × 16.50) / 1e6
    # = (6600 + 1980 + 6600 + 16500) / 1e6
    assert price.cost_usd(Decimal(10000), Decimal(1000), Decimal(6000), Decimal(2000)) == Decimal(
        "0.03168"
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda d: d["model_prices"].append(dict(d["model_prices"][1], provider="aws.bedrock")),
            "model_prices[6].effective_from: duplicate (model, provider, effective_from)",
        ),
        (
            lambda d: d["model_prices"][0].update(match="claude-(["),
            "model_prices[0].match: not a valid regular expression",
        ),
        (
            lambda d: d["model_prices"][0].update(match="claude(?!-opus).*"),
            "model_prices[0].match: lookarounds and backreferences are not supported",
        ),
        (
            lambda d: d["model_prices"][1].update(match="other"),
            "model_prices[1].match: model 'claude-sonnet-4-5' already has the match pattern",
        ),
        (
            lambda d: d["model_prices"][0].update(cache_read_per_million="-1"),
            "model_prices[0].cache_read_per_million: must not be negative",
        ),
        (
            lambda d: d["model_prices"][0].update(provider=" "),
            "model_prices[0].provider: must not be empty",
        ),
    ],
)
def test_bad_model_prices_name_the_field(change, problem):
    document = yaml.safe_load(PRICES)
    change(document)
    with pytest.raises(CatalogError) as raised:
        parse_catalog(yaml.safe_dump(document))
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems


def test_a_duplicate_date_for_another_provider_is_fine():
    document = yaml.safe_load(PRICES)
    document["model_prices"].append(dict(document["model_prices"][0], provider="anthropic"))
    document["model_prices"][-1].pop("match")
    parse_catalog(yaml.safe_dump(document))


def test_default_catalog_prices_the_common_models():
    catalog = load_catalog(None, Path("/nonexistent"))
    day = date(2026, 10, 15)
    sonnet = catalog.model_price("claude-sonnet-4-5-20250929", day)
    assert (sonnet.input_per_million, sonnet.output_per_million) == (3, 15)
    assert (sonnet.cache_read_price, sonnet.cache_write_price) == (Decimal("0.30"), Decimal("3.75"))
    assert catalog.model_price(
        "claude-sonnet-4-5", day, "aws.bedrock"
    ).input_per_million == Decimal("3.30")
    for model in (
        "claude-opus-4-1",
        "claude-haiku-4-5",
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "o3",
        "o4-mini",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
    ):
        assert catalog.model_price(model, day) is not None, model
    assert catalog.model_price("gpt-4o-mini-2024-07-18", day).model == "gpt-4o-mini"
    assert {"llm_cache_read_tokens", "llm_cache_write_tokens", "llm_reasoning_tokens"} <= set(
        catalog.meters
    )
