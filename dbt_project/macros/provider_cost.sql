{#
  The accepted items of `classified` (an int_<source>_copies_classified model) with their provider
  cost (SPEC 2.6): `cost_source` `source` when the source sent a cost; else, for an item with token
  counts (`has_tokens`), `catalog` when a price applies on the UTC day of `time_column`, with the
  exact cost of its uncached input, cache reads, cache writes and output; else `unpriced` with a
  NULL cost (an unpriced model never looks free); an item without tokens or sent cost: 0, `none`.

  The item's model id resolves to the catalog model of that name, else to the first model in
  catalog order whose `match` pattern matches it whole (SPEC 3). The entries of that model that
  name the item's provider are used when there are any (even if none is in force yet), else those
  that name none; the latest effective_from on or before the item's day wins. Model ids and
  (model, provider) pairs are few: they are resolved once each, then joined to the items.

  Incremental (SPEC 9): a run recosts the keys whose copies it re-ranked; changed prices rebuild
  the model in full (reprice_full_refresh).
#}
{% macro accepted_with_provider_cost(classified, time_column, has_tokens) %}
{{ config(
    materialized=incremental_materialization(),
    incremental_strategy='delete+insert',
    unique_key='item_key',
    full_refresh=reprice_full_refresh(),
    on_schema_change='fail',
) }}
-- depends_on: {{ ref('stg_ingest__batch_files') }}
with accepted as (
    select * from {{ classified }}
    where copy_status = 'accepted'
    {% if is_incremental() %}
        -- the keys whose copies this run re-ranked (SPEC 9)
        and item_key in (select item_key from {{ classified }} where {{ in_batch() }})
    {% endif %}
),

prices as (
    select * from {{ ref('stg_catalog__model_prices') }}
),

catalog_models as (
    select model, min(model_order) as model_order, max(match) as match
    from prices
    group by model
),

item_models as (
    select distinct model, coalesce(provider, '') as provider_key
    from accepted
    where model is not null
),

pattern_matches as (
    select i.model, min_by(c.model, c.model_order) as catalog_model
    from (select distinct model from item_models) as i
    inner join catalog_models as c
        on c.match is not null and {{ regex_full_match('i.model', 'c.match') }}
    group by i.model
),

provider_entries as (
    select distinct model, provider from prices where provider is not null
),

resolved as (
    select
        i.model,
        i.provider_key,
        coalesce(exact.model, pm.catalog_model) as catalog_model,
        -- '' = the entries that name no provider
        coalesce(pe.provider, '') as price_provider_key
    from item_models as i
    left join catalog_models as exact on i.model = exact.model
    left join pattern_matches as pm on i.model = pm.model
    left join provider_entries as pe
        on coalesce(exact.model, pm.catalog_model) = pe.model
        and i.provider_key = pe.provider
),

-- each price with the day it stops being in force (the next effective_from of the same model and
-- provider), so an item finds its price with one range join
price_periods as (
    select
        model,
        coalesce(provider, '') as provider_key,
        input_per_million,
        output_per_million,
        cache_read_per_million,
        cache_write_per_million,
        effective_from,
        lead(effective_from) over (
            partition by model, provider order by effective_from
        ) as effective_until
    from prices
),

priced as (
    select
        a.*,
        p.model is not null as has_price,
        {{ token_cost(
            'a.input_tokens - coalesce(a.cache_read_tokens, 0) - coalesce(a.cache_write_tokens, 0)',
            'p.input_per_million') }}
        -- a cache price defaults to the entry's input price (SPEC 3)
        + {{ token_cost('a.cache_read_tokens',
                        'coalesce(p.cache_read_per_million, p.input_per_million)') }}
        + {{ token_cost('a.cache_write_tokens',
                        'coalesce(p.cache_write_per_million, p.input_per_million)') }}
        + {{ token_cost('a.output_tokens', 'p.output_per_million') }} as catalog_cost_usd
    from accepted as a
    left join resolved as r
        on a.model = r.model
        and coalesce(a.provider, '') = r.provider_key
    left join price_periods as p
        on r.catalog_model = p.model
        and r.price_provider_key = p.provider_key
        and p.effective_from <= cast(a.{{ time_column }} as date)
        and (p.effective_until is null or cast(a.{{ time_column }} as date) < p.effective_until)
),

sourced as (
    select
        {{ star_except(['has_price', 'catalog_cost_usd']) }},
        catalog_cost_usd,
        case
            when source_cost_usd is not null then 'source'
            when not ({{ has_tokens }}) then 'none'
            when has_price then 'catalog'
            else 'unpriced'
        end as cost_source
    from priced
)

select
    {{ star_except(['catalog_cost_usd']) }},
    cast(case cost_source
        when 'source' then source_cost_usd
        when 'catalog' then catalog_cost_usd
        when 'none' then 0
    end as decimal(38, 12)) as cost_usd
from sourced
{% endmacro %}

{# The cost of an item's records after its first: 0, or unknown (NULL) for an unpriced item. #}
{% macro later_record_cost(cost_source) %}
    cast(case when {{ cost_source }} <> 'unpriced' then 0 end as decimal(38, 12))
{% endmacro %}
