"""Price catalog (SPEC §3): meters, model prices, plans and subscriptions.

Every money, price and quantity field is an exact `Decimal` (YAML floats go through `str()`, never
through binary arithmetic). A catalog that breaks a rule raises `CatalogError`, whose message names
the path of every bad field, e.g. `plans.growth.prices.api_call.tiers[1].up_to: ...`.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Hashable
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_CATALOG_PATH = Path(__file__).with_name("default_catalog.yml")

FieldPath = tuple[str | int, ...]


# SPEC 8 (revised): a catalog file over 10 MB is rejected before it is parsed
MAX_CATALOG_BYTES = 10_000_000


class CatalogError(Exception):
    """A catalog that cannot be used; `problems` holds one `field.path: reason` per broken rule."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"invalid catalog {source}:\n" + "\n".join(f"  {p}" for p in problems))


class _RuleViolations(ValueError):
    """Cross-field rule violations, each at a path relative to the object being validated."""

    def __init__(self, violations: list[tuple[FieldPath, str]]) -> None:
        super().__init__("; ".join(message for _, message in violations))
        self.violations = violations


def _raise_if_any(violations: list[tuple[FieldPath, str]]) -> None:
    if violations:
        raise _RuleViolations(violations)


def _decimal(value: Any) -> Decimal:
    # str() first: a YAML float like 0.1 must become Decimal("0.1"), not its binary approximation
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"must be a decimal number, got {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"must be a decimal number, got {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"must be a finite decimal number, got {value!r}")
    if number < 0:
        raise ValueError(f"must not be negative, got {value!r}")
    return number


def _cents(amount: Decimal) -> Decimal:
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"must be a whole number of cents, got {amount}")
    return amount


def _positive(number: Decimal) -> Decimal:
    if number <= 0:
        raise ValueError(f"must be greater than 0, got {number}")
    return number


def _percent(number: Decimal) -> Decimal:
    if number > 100:
        raise ValueError(f"must be at most 100, got {number}")
    return number


Quantity = Annotated[Decimal, BeforeValidator(_decimal)]
Money = Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_cents)]
Bound = Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_positive)]
Percent = Annotated[Decimal, BeforeValidator(_decimal), AfterValidator(_percent)]


class _CatalogModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Meter(_CatalogModel):
    """A billable metric and its unit."""

    unit: str


class ModelPrice(_CatalogModel):
    """Provider price of an LLM in USD per million tokens, from `effective_from` on."""

    model: str
    input_per_million: Quantity
    output_per_million: Quantity
    effective_from: date


class Tier(_CatalogModel):
    """One graduated tier: billable quantity up to `up_to` (None = no bound) at `unit_price`."""

    up_to: Bound | None
    unit_price: Quantity


class Price(_CatalogModel):
    """How a plan prices one meter: `included` free, then `unit_price` or graduated `tiers`."""

    included: Quantity = Decimal(0)
    unit_price: Quantity | None = None
    tiers: list[Tier] | None = None

    @field_validator("tiers")
    @classmethod
    def _tiers_ascending(cls, tiers: list[Tier] | None) -> list[Tier] | None:
        if tiers is None:
            return None
        if not tiers:
            raise ValueError("must list at least one tier")
        violations: list[tuple[FieldPath, str]] = []
        previous: Decimal | None = None
        for index, tier in enumerate(tiers):
            is_last = index == len(tiers) - 1
            if tier.up_to is None and not is_last:
                violations.append(((index, "up_to"), "only the last tier may have up_to: null"))
            elif tier.up_to is not None and is_last:
                violations.append(((index, "up_to"), "the last tier must have up_to: null"))
            elif tier.up_to is not None and previous is not None and tier.up_to <= previous:
                violations.append(((index, "up_to"), "tiers must be in ascending order"))
            previous = tier.up_to if tier.up_to is not None else previous
        _raise_if_any(violations)
        return tiers

    @model_validator(mode="after")
    def _one_pricing(self) -> Price:
        if (self.unit_price is None) == (self.tiers is None):
            raise ValueError("give exactly one of unit_price or tiers")
        return self


class VolumeDiscount(_CatalogModel):
    """`percent` off the usage subtotal once it reaches `from_amount`."""

    from_amount: Money
    percent: Percent


class Plan(_CatalogModel):
    """A plan: monthly fee, optional minimum commitment, meter prices and volume discounts."""

    name: str
    monthly_fee: Money
    minimum_commitment: Money | None = None
    prices: dict[str, Price] = {}
    volume_discounts: list[VolumeDiscount] = []

    @field_validator("volume_discounts")
    @classmethod
    def _distinct_brackets(cls, brackets: list[VolumeDiscount]) -> list[VolumeDiscount]:
        seen: set[Decimal] = set()
        violations: list[tuple[FieldPath, str]] = []
        for index, bracket in enumerate(brackets):
            if bracket.from_amount in seen:
                violations.append(((index, "from_amount"), "duplicate from_amount"))
            seen.add(bracket.from_amount)
        _raise_if_any(violations)
        return brackets


class Subscription(_CatalogModel):
    """Tenant on `plan` from `start` (first day of a month); plan None ends the subscription."""

    tenant_id: str = Field(min_length=1)
    plan: str | None
    start: date

    @field_validator("start")
    @classmethod
    def _first_of_month(cls, start: date) -> date:
        if start.day != 1:
            raise ValueError(f"must be the first day of a month, got {start}")
        return start


class Catalog(_CatalogModel):
    """The whole catalog, with the lookups rating needs (plan in force, model price)."""

    currency: str
    grace_period_days: int = Field(default=3, ge=0, strict=True)
    default_plan: str | None = None
    meters: dict[str, Meter]
    model_prices: list[ModelPrice] = []
    plans: dict[str, Plan]
    subscriptions: list[Subscription] = []

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, currency: str) -> str:
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ValueError(f"must be three upper-case letters (ISO 4217), got {currency!r}")
        return currency

    @model_validator(mode="after")
    def _references(self) -> Catalog:
        violations: list[tuple[FieldPath, str]] = []
        if self.default_plan is not None and self.default_plan not in self.plans:
            violations.append((("default_plan",), f"unknown plan {self.default_plan!r}"))
        for plan_id, plan in self.plans.items():
            violations += [
                (("plans", plan_id, "prices", meter), f"unknown meter {meter!r}")
                for meter in plan.prices
                if meter not in self.meters
            ]
        prices_seen: set[tuple[str, date]] = set()
        for index, price in enumerate(self.model_prices):
            key = (price.model, price.effective_from)
            if key in prices_seen:
                violations.append((("model_prices", index), "duplicate (model, effective_from)"))
            prices_seen.add(key)
        starts_seen: set[tuple[str, date]] = set()
        for index, subscription in enumerate(self.subscriptions):
            if subscription.plan is not None and subscription.plan not in self.plans:
                violations.append(
                    (("subscriptions", index, "plan"), f"unknown plan {subscription.plan!r}")
                )
            key = (subscription.tenant_id, subscription.start)
            if key in starts_seen:
                violations.append((("subscriptions", index), "duplicate (tenant_id, start)"))
            starts_seen.add(key)
        _raise_if_any(violations)
        return self

    @cached_property
    def _subscriptions_by_tenant(self) -> dict[str, list[Subscription]]:
        by_tenant: dict[str, list[Subscription]] = defaultdict(list)
        for subscription in sorted(self.subscriptions, key=lambda s: s.start):
            by_tenant[subscription.tenant_id].append(subscription)
        return dict(by_tenant)

    def plan_for(self, tenant_id: str, period_start: date) -> str | None:
        """Plan id in force for the tenant at `period_start`, or None when it has no plan.

        The latest subscription starting on or before `period_start` wins (its plan may be None:
        ended). `default_plan` applies only to tenants with no subscription entry at all.
        """
        entries = self._subscriptions_by_tenant.get(tenant_id)
        if entries is None:
            return self.default_plan
        started = [s for s in entries if s.start <= period_start]
        return started[-1].plan if started else None

    def subscribed_tenants(self, period_start: date) -> list[str]:
        """Tenants whose subscription puts them on a plan at `period_start`, in UTF-8 byte order."""
        return sorted(
            (t for t in self._subscriptions_by_tenant if self.plan_for(t, period_start)),
            key=lambda t: t.encode("utf-8"),
        )

    def model_price(self, model: str, on: date) -> ModelPrice | None:
        """Price of `model` in force on `on` (latest `effective_from` <= on), or None."""
        candidates = [p for p in self.model_prices if p.model == model and p.effective_from <= on]
        return max(candidates, key=lambda p: p.effective_from, default=None)


class _CatalogLoader(yaml.SafeLoader):
    """Safe YAML loader that rejects duplicate keys instead of silently keeping the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # the base loader reports unhashable keys
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _field_path(location: FieldPath) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "catalog"


_FRIENDLY_MESSAGES = {
    "extra_forbidden": "unknown key",
    "missing": "required key is missing",
    "greater_than_equal": "must not be negative",
}


def _problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        cause = item.get("ctx", {}).get("error")
        if isinstance(cause, _RuleViolations):
            problems += [f"{_field_path(item['loc'] + p)}: {m}" for p, m in cause.violations]
        else:
            message = str(cause) if cause else _FRIENDLY_MESSAGES.get(item["type"], item["msg"])
            problems.append(f"{_field_path(item['loc'])}: {message}")
    return problems


def parse_catalog(text: str, source: str = "<catalog>") -> Catalog:
    """Parse and validate a catalog from YAML text; raise `CatalogError` naming every bad field."""
    try:
        document = yaml.load(text, Loader=_CatalogLoader)
    except yaml.YAMLError as error:
        raise CatalogError(source, [f"not valid YAML: {error}"]) from None
    if not isinstance(document, dict):
        raise CatalogError(source, ["catalog: must be a YAML mapping"])
    try:
        return Catalog.model_validate(document)
    except ValidationError as error:
        raise CatalogError(source, _problems(error)) from None


def load_catalog(path: Path | None, home: Path) -> Catalog:
    """Load the catalog: `path`, else `home/catalog.yml` if it exists, else the shipped default."""
    if path is None:
        path = home / "catalog.yml"
        if not path.exists():
            path = DEFAULT_CATALOG_PATH
    try:
        with path.open("rb") as handle:
            # the size is checked before anything is parsed: a huge file (or YAML aliases that
            # expand) would otherwise cost minutes and gigabytes just to be rejected
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_CATALOG_BYTES:
                raise CatalogError(
                    str(path),
                    [
                        f"catalog: the file is {size:,} bytes, over the limit of "
                        f"{MAX_CATALOG_BYTES:,} bytes (10 MB)"
                    ],
                )
            data = handle.read(MAX_CATALOG_BYTES + 1)
    except OSError as error:
        raise CatalogError(
            str(path), [f"catalog: cannot read the file ({error.strerror})"]
        ) from None
    if len(data) > MAX_CATALOG_BYTES:  # grew while being read, or not a regular file
        raise CatalogError(
            str(path),
            [f"catalog: the file is over the limit of {MAX_CATALOG_BYTES:,} bytes (10 MB)"],
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CatalogError(str(path), [f"catalog: not UTF-8 text ({error.reason})"]) from None
    return parse_catalog(text, str(path))
