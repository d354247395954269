"""Great Expectations 1.x suites generated from the same :class:`RuleSet` as the quarantine filter.

Every rule becomes one or more expectations (tagged ``meta.reason``); the rule set's schema and
volume become column-set / type / row-count expectations. Rules that need other rows or tables
(future timestamp, age, unknown item, bots, click rate) are checked on the helper columns the filter adds
(``filters.helper_column``), so GX verifies exactly the values the filter acted on.

Engines: ``spark`` validates the Spark frames themselves; ``pandas`` validates a bounded sample
(``validate.gx_sample_rows`` rows, collected to the driver; uniqueness is then only checked
within the sample) because GX on Spark runs one Spark job per metric (see the benchmark).
Data Docs (HTML) are written to ``<artifacts_root>/validation/<run_date>/``.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobs.common.config import is_remote
from jobs.quality.filters import helper_column, raw_name
from jobs.quality.rules import SPARK_TYPES, Rule, RuleSet

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
for _name in ("great_expectations", "great_expectations.core"):
    logging.getLogger(_name).setLevel(logging.ERROR)
BLANK = "^\\s*$"


@dataclass(frozen=True)
class ExpectationOutcome:
    batch: str  # events_input | events_clean | catalog_input | catalog_clean
    expectation: str  # e.g. expect_column_values_to_not_be_null
    column: str
    reason: str  # the rule it came from ("schema" / "volume" for table-level ones)
    success: bool
    observed: float | None  # unexpected_count, or observed_value for table-level ones
    element_count: int | None


def _rule_expectations(rule: Rule) -> list[Any]:
    import great_expectations.expectations as gxe

    meta = {"reason": rule.reason}
    k, helper = rule.kind, helper_column(rule)
    if k == "not_null":
        out = [gxe.ExpectColumnValuesToNotBeNull(column=rule["column"], meta=meta)]
        if rule.get("blank_is_null"):
            out.append(gxe.ExpectColumnValuesToNotMatchRegex(column=rule["column"], regex=BLANK,
                                                             meta=meta))
        return out
    if k == "in_set":
        return [gxe.ExpectColumnValuesToNotBeNull(column=rule["column"], meta=meta),
                gxe.ExpectColumnValuesToBeInSet(column=rule["column"],
                                                value_set=list(rule["values"]), meta=meta)]
    if k == "between":
        return [gxe.ExpectColumnValuesToBeBetween(column=rule["column"], min_value=rule.get("min"),
                                                  max_value=rule.get("max"), meta=meta)]
    if k == "regex":
        return [gxe.ExpectColumnValuesToNotBeNull(column=rule["column"], meta=meta),
                gxe.ExpectColumnValuesToMatchRegex(column=rule["column"], regex=rule["pattern"],
                                                   meta=meta)]
    if k == "not_after_ingest":
        return [gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=helper, column_B=rule["column"], or_equal=False,
            ignore_row_if="either_value_is_missing", meta=meta)]
    if k in ("max_age_days", "max_per_group", "max_in_window"):
        limit = rule["days"] if k == "max_age_days" else rule["max"]
        return [gxe.ExpectColumnValuesToBeBetween(column=helper, max_value=int(limit), meta=meta)]
    if k == "unique_key":
        cols = list(rule["columns"])
        if len(cols) == 1:
            return [gxe.ExpectColumnValuesToBeUnique(column=cols[0], meta=meta)]
        return [gxe.ExpectCompoundColumnsToBeUnique(column_list=cols, meta=meta)]
    if k == "in_catalog":
        return [gxe.ExpectColumnValuesToBeInSet(column=helper, value_set=[True], meta=meta)]
    if k == "query_text":
        raw = raw_name(rule["column"])
        return [gxe.ExpectColumnValueLengthsToBeBetween(column=raw, max_value=int(
                    rule["max_length"]), meta=meta),
                gxe.ExpectColumnValuesToNotMatchRegex(column=raw, regex=rule["forbid_regex"],
                                                      meta=meta),
                gxe.ExpectColumnValuesToBeBetween(column=helper, min_value=1, meta=meta)]
    raise ValueError(f"rule kind {k!r} has no expectation")


def build_expectations(rules: RuleSet, engine: str = "spark") -> list[Any]:
    """The expectation list of a rule set (schema, volume, then one group per rule)."""
    import great_expectations.expectations as gxe

    out: list[Any] = [gxe.ExpectTableColumnsToMatchSet(
        column_set=list(rules.schema), exact_match=False, meta={"reason": "schema"})]
    if engine == "spark":  # pandas dtypes do not carry the Spark types
        out += [gxe.ExpectColumnValuesToBeOfType(column=c, type_=SPARK_TYPES[t],
                                                 meta={"reason": "schema"})
                for c, t in rules.schema.items()]
    if rules.min_rows is not None or rules.max_rows is not None:
        out.append(gxe.ExpectTableRowCountToBeBetween(
            min_value=rules.min_rows, max_value=rules.max_rows, meta={"reason": "volume"}))
    for rule in rules.rules:
        out += _rule_expectations(rule)
    return out


def build_suite(rules: RuleSet, engine: str = "spark", name: str | None = None) -> Any:
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=name or f"{rules.name}_{rules.version}",
                                meta={"rule_version": rules.version})
    for exp in build_expectations(rules, engine):
        suite.add_expectation(exp)
    return suite


def _docs_site(base_dir: str) -> dict[str, Any]:
    if is_remote(base_dir):
        bucket, _, prefix = base_dir.removeprefix("s3://").partition("/")
        backend = {"class_name": "TupleS3StoreBackend", "bucket": bucket, "prefix": prefix}
    else:
        backend = {"class_name": "TupleFilesystemStoreBackend", "base_directory": base_dir}
    return {"class_name": "SiteBuilder", "store_backend": backend,
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}}


def _outcomes(batch: str, result: Any) -> list[ExpectationOutcome]:
    out = []
    for r in result.results:
        cfg = r.expectation_config
        kw = cfg.kwargs
        column = kw.get("column") or ",".join(kw.get("column_list") or []) or (
            f"{kw['column_A']}>{kw['column_B']}" if "column_A" in kw else "")
        res = r.result or {}
        obs = res.get("unexpected_count")
        if obs is None and isinstance(res.get("observed_value"), (int, float)):
            obs = res["observed_value"]
        out.append(ExpectationOutcome(batch, cfg.type, column, (cfg.meta or {}).get("reason", ""),
                                      bool(r.success), None if obs is None else float(obs),
                                      res.get("element_count")))
    return out


def run_suites(batches: dict[str, tuple[RuleSet, DataFrame]], *, engine: str,
               docs_dir: str | None, sample_rows: int = 200_000,
               run_name: str = "validate") -> tuple[list[ExpectationOutcome], dict[str, float]]:
    """Validate each named batch against its rule set's suite; write Data Docs to ``docs_dir``.

    Returns the per-expectation outcomes and timings (seconds) per batch."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    timings: dict[str, float] = {}
    t0 = time.monotonic()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    sites = []
    if docs_dir:
        if not is_remote(docs_dir):
            shutil.rmtree(docs_dir, ignore_errors=True)  # one run date = one docs site
        context.add_data_docs_site("ranklake", _docs_site(docs_dir))
        sites = ["ranklake"]
    source = (context.data_sources.add_spark("spark") if engine == "spark"
              else context.data_sources.add_pandas("pandas"))
    timings["gx_setup"] = time.monotonic() - t0
    outcomes: list[ExpectationOutcome] = []
    for name, (rules, df) in batches.items():
        t1 = time.monotonic()
        batch_df: Any = df if engine == "spark" else df.limit(sample_rows).toPandas()
        asset = source.add_dataframe_asset(name)
        bdef = asset.add_batch_definition_whole_dataframe(f"{name}_all")
        suite = context.suites.add(build_suite(rules, engine, name=f"{name}_{rules.version}"))
        vdef = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{name}_vd", data=bdef, suite=suite))
        actions = [UpdateDataDocsAction(name="docs", site_names=sites)] if sites else []
        cp = context.checkpoints.add(gx.Checkpoint(
            name=f"{name}_cp", validation_definitions=[vdef], actions=actions,
            result_format={"result_format": "SUMMARY"}))
        res = cp.run(batch_parameters={"dataframe": batch_df}, run_id=gx.RunIdentifier(run_name))
        for vres in res.run_results.values():
            outcomes += _outcomes(name, vres)
        timings[f"gx_{name}"] = time.monotonic() - t1
    return outcomes, timings
