"""Raw-data generator: one billing month of realistic deliveries for every raw source.

`generate_month` backs `meterline generate`; docs/generator.md describes the mix and the traps.
"""

from orchestration.generate.month import MIX, GenerateSummary, generate_month

__all__ = ["MIX", "GenerateSummary", "generate_month"]
