"""Great Expectations for the checks: the committed suites, run on DataFrames, per METERLINE_HOME.

The suites live in the file-backed GX project `expectations/gx/` and are never written at run
time: a `SuiteRunner` loads copies of them into an in-memory context whose only filesystem
stores are the validation results and the Data Docs under `<home>/gx/`, so two homes never mix
their results. GX's SQL datasources fail on DuckDB, so every suite validates a pandas DataFrame.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import pandas as pd

# GX reads this when it is imported; the context config below switches analytics off as well.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx  # noqa: E402
from great_expectations.core.run_identifier import RunIdentifier  # noqa: E402
from great_expectations.data_context.types.base import (  # noqa: E402
    DataContextConfig,
    ProgressBarsConfig,
)
from great_expectations.data_context.types.resource_identifiers import (  # noqa: E402
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

from orchestration.core.settings import GX_PROJECT_DIR  # noqa: E402

SUITES_DIR = GX_PROJECT_DIR / "expectations"
DATA_DOCS_SITE = "local_site"
RUN_NAME = "meterline_checks"
# Unexpected rows GX reports per failed expectation: enough to name the culprits, small enough
# to keep validation results and Data Docs pages light when a whole mart is off.
UNEXPECTED_ROWS_LIMIT = 50
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": UNEXPECTED_ROWS_LIMIT}
# Results of each suite kept in the live store, whose every key GX lists and parses on each Data
# Docs build: older ones move to `<home>/gx/archive/`, so a build costs the same after a year.
RESULTS_KEPT_PER_SUITE = 14


@dataclass(frozen=True)
class ExpectationFailure:
    """One expectation of a suite that the data broke."""

    expectation_type: str
    kwargs: Mapping[str, Any]
    """The expectation's arguments as evaluated, with `$PARAMETER` values filled in."""
    unexpected_count: int
    row_indices: tuple[Any, ...]
    """Index labels of the first unexpected rows of the validated DataFrame (at most 50)."""


@dataclass(frozen=True)
class SuiteValidation:
    """What one suite said about one DataFrame."""

    success: bool
    evaluated_expectations: int
    failures: tuple[ExpectationFailure, ...]
    data_docs_page: Path
    """The result's Data Docs page, written by the runner's next `build_data_docs()`."""


class SuiteRunner:
    """Validates DataFrames against the committed suites, keeping results under `<home>/gx/`.

    Creating one takes milliseconds (importing GX itself takes seconds, once per process) and
    never touches the network. Validate any number of frames, then `build_data_docs()` once:
    rendering a page costs as much as a validation.
    """

    def __init__(self, home: Path, suites_dir: Path = SUITES_DIR) -> None:
        self.gx_dir = Path(home) / "gx"
        self._suites_dir = suites_dir
        self._context = gx.get_context(mode="ephemeral", project_config=_run_config(self.gx_dir))
        for suite_file in sorted(suites_dir.glob("*.json")):
            self._context.suites.add(gx.ExpectationSuite(**json.loads(suite_file.read_text())))
        self._datasource = self._context.data_sources.add_pandas("meterline_warehouse")
        self._validations: dict[str, gx.ValidationDefinition] = {}
        self._unrendered: list[ValidationResultIdentifier | ExpectationSuiteIdentifier] = []

    @property
    def data_docs_index(self) -> Path:
        """The Data Docs home page of this METERLINE_HOME."""
        return self.gx_dir / "data_docs" / DATA_DOCS_SITE / "index.html"

    def suite_names(self) -> list[str]:
        """Names of the committed suites this runner loaded."""
        return sorted(suite.name for suite in self._context.suites.all())

    def validate(
        self,
        suite_name: str,
        frame: pd.DataFrame,
        expectation_parameters: Mapping[str, Any] | None = None,
    ) -> SuiteValidation:
        """Validate `frame` against the suite and store the result under `<home>/gx/`."""
        run_id = RunIdentifier(run_name=RUN_NAME, run_time=dt.datetime.now(dt.UTC))
        result = self._validation(suite_name).run(
            batch_parameters={"dataframe": frame},
            expectation_parameters=dict(expectation_parameters or {}),
            result_format=RESULT_FORMAT,
            run_id=run_id,
        )
        suite_id = ExpectationSuiteIdentifier(name=suite_name)
        result_id = ValidationResultIdentifier(
            expectation_suite_identifier=suite_id, run_id=run_id, batch_identifier=result.batch_id
        )
        self._unrendered.append(result_id)
        if suite_id not in self._unrendered and self._suite_page_is_stale(suite_id):
            self._unrendered.append(suite_id)
        return SuiteValidation(
            success=bool(result.success),
            evaluated_expectations=result.statistics["evaluated_expectations"],
            failures=tuple(
                ExpectationFailure(
                    expectation_type=outcome.expectation_config.type,
                    kwargs=dict(outcome.expectation_config.kwargs),
                    unexpected_count=outcome.result.get("unexpected_count") or 0,
                    row_indices=tuple(outcome.result.get("partial_unexpected_index_list") or ()),
                )
                for outcome in result.results
                if not outcome.success
            ),
            data_docs_page=self._page_of(result_id),
        )

    def build_data_docs(self) -> Path:
        """Render the pages of the results validated since the last build, and the index.

        First, results older than the latest `RESULTS_KEPT_PER_SUITE` of each suite move to
        `<home>/gx/archive/`, and GX drops their pages from the site.
        """
        self._archive_old_results()
        self._context.build_data_docs(
            site_names=[DATA_DOCS_SITE], resource_identifiers=self._unrendered
        )
        self._unrendered = []
        return self.data_docs_index

    def _validation(self, suite_name: str) -> gx.ValidationDefinition:
        if suite_name not in self._validations:
            asset = self._datasource.add_dataframe_asset(suite_name)
            self._validations[suite_name] = self._context.validation_definitions.add(
                gx.ValidationDefinition(
                    name=suite_name,
                    data=asset.add_batch_definition_whole_dataframe("whole_frame"),
                    suite=self._context.suites.get(suite_name),
                )
            )
        return self._validations[suite_name]

    def _page_of(
        self, resource_id: ValidationResultIdentifier | ExpectationSuiteIdentifier
    ) -> Path:
        [site] = self._context.get_docs_sites_urls(
            resource_identifier=resource_id, site_name=DATA_DOCS_SITE, only_if_exists=False
        )
        return Path(url2pathname(urlparse(site["site_url"]).path))

    def _suite_page_is_stale(self, suite_id: ExpectationSuiteIdentifier) -> bool:
        """A suite's page is rendered again only when it is missing or older than the suite."""
        page = self._page_of(suite_id)
        suite_file = self._suites_dir / f"{suite_id.name}.json"
        return not page.is_file() or page.stat().st_mtime < suite_file.stat().st_mtime

    def _archive_old_results(self) -> None:
        for runs in (self.gx_dir / "validations").glob(f"*/{RUN_NAME}"):
            # run folders are named after their UTC run time: by name is by time
            for run in sorted(runs.iterdir())[:-RESULTS_KEPT_PER_SUITE]:
                archived = self.gx_dir / "archive" / run.relative_to(self.gx_dir)
                archived.parent.mkdir(parents=True, exist_ok=True)
                run.rename(archived)


def _run_config(gx_dir: Path) -> DataContextConfig:
    """Suites, checkpoints and validation definitions in memory; results and docs on disk."""

    def in_memory(store_class: str) -> dict[str, Any]:
        return {"class_name": store_class, "store_backend": {"class_name": "InMemoryStoreBackend"}}

    def on_disk(folder: Path) -> dict[str, Any]:
        return {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(folder),
            "suppress_store_backend_id": True,
        }

    return DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        stores={
            "expectations_store": in_memory("ExpectationsStore"),
            "checkpoint_store": in_memory("CheckpointStore"),
            "validation_definition_store": in_memory("ValidationDefinitionStore"),
            "validation_results_store": {
                "class_name": "ValidationResultsStore",
                "store_backend": on_disk(gx_dir / "validations"),
            },
        },
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        data_docs_sites={
            DATA_DOCS_SITE: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": on_disk(gx_dir / "data_docs" / DATA_DOCS_SITE),
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
