"""Raw landing zone -> bronze: read raw deliveries, type every item, quarantine what cannot be used."""
