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


# Regular-expression syntax the warehouse (RE2) does not have: lookaround and backreferences.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]")


def _model_pattern(pattern: str | None) -> str | None:
    if pattern is None:
        return None
    if not pattern:
        raise ValueError("must not be empty")
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"not a valid regular expression ({error})") from None
    if _NOT_RE2.search(pattern):
        raise ValueError("lookarounds and backreferences are not supported")
    return pattern


def _provider_name(provider: str | None) -> str | None:
    # providers are compared case-insensitively (items' provider names are stored lower-case)
    if provider is None:
        return None
    if not provider.strip():
        raise ValueError("must not be empty (leave it out for a price of every provider)")
    return provider.strip().lower()


class ModelPrice(_CatalogModel):
    """Provider price of an LLM in USD per million tokens, from `effective_from` on.

    `provider`: the price applies only to items of that provider (None: to the others).
    `match`: a regular expression that model ids must match whole to resolve to `model`.
    Cache prices default to the input price.
    """

    model: str = Field(min_length=1)
    provider: Annotated[str | None, AfterValidator(_provider_name)] = None
    match: Annotated[str | None, AfterValidator(_model_pattern)] = None
    input_per_million: Quantity
    output_per_million: Quantity
    cache_read_per_million: Quantity | None = None
    cache_write_per_million: Quantity | None = None
    effective_from: date

    @property
    def cache_read_price(self) -> Decimal:
        return (
            self.input_per_million
            if self.cache_read_per_million is None
            else self.cache_read_per_million
        )

    @property
    def cache_write_price(self) -> Decimal:
        return (
            self.input_per_million
            if self.cache_write_per_million is None
            else self.cache_write_per_million
        )

    def cost_usd(
        self,
        input_tokens: Decimal,
        output_tokens: Decimal,
        cache_read: Decimal,
        cache_write: Decimal,
    ) -> Decimal:
        """SPEC 2.6 provider cost of one item at this price, exact (reasoning is output)."""
        uncached = input_tokens - cache_read - cache_write
        return (
            uncached * self.input_per_million
            + cache_read * self.cache_read_price
            + cache_write * self.cache_write_price
            + output_tokens * self.output_per_million
        ) / Decimal(1_000_000)


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
        violations += self._model_price_violations()
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

    def _model_price_violations(self) -> list[tuple[FieldPath, str]]:
        violations: list[tuple[FieldPath, str]] = []
        prices_seen: set[tuple[str, str | None, date]] = set()
        patterns: dict[str, str] = {}
        for index, price in enumerate(self.model_prices):
            key = (price.model, price.provider, price.effective_from)
            if key in prices_seen:
                violations.append(
                    (
                        ("model_prices", index, "effective_from"),
                        "duplicate (model, provider, effective_from)",
                    )
                )
            prices_seen.add(key)
            if price.match is not None:
                first = patterns.setdefault(price.model, price.match)
                if first != price.match:
                    violations.append(
                        (
                            ("model_prices", index, "match"),
                            f"model {price.model!r} already has the match pattern {first!r}",
                        )
                    )
        return violations

    @cached_property
    def model_patterns(self) -> dict[str, str]:
        """Each model's `match` pattern, in catalog order (the first model's entry first)."""
        patterns: dict[str, str] = {}
        for price in self.model_prices:
            if price.match is not None:
                patterns.setdefault(price.model, price.match)
        return patterns

    def resolve_model(self, model_id: str) -> str | None:
        """The catalog model an item's model id stands for (SPEC 3): the model of that name,
        else the first model, in catalog order, whose `match` pattern matches the id whole."""
        if any(price.model == model_id for price in self.model_prices):
            return model_id
        for model, pattern in self.model_patterns.items():
            if re.fullmatch(pattern, model_id):
                return model
        return None

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

    def model_price(self, model: str, on: date, provider: str | None = None) -> ModelPrice | None:
        """Price in force on `on` for an item of model id `model` served by `provider` (SPEC 3):
        the entries of the resolved model that name the provider when there are any, else
        those that name none; the latest `effective_from` <= on; None when no price applies."""
        resolved = self.resolve_model(model)
        if resolved is None:
            return None
        entries = [p for p in self.model_prices if p.model == resolved]
        provider = _provider_name(provider) if provider and provider.strip() else None
        own = [p for p in entries if provider is not None and p.provider == provider]
        candidates = own or [p for p in entries if p.provider is None]
        in_force = [p for p in candidates if p.effective_from <= on]
        return max(in_force, key=lambda p: p.effective_from, default=None)


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
