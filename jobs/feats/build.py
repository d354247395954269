"""Which snapshots a run needs and how they are computed/read: one place for the stage and for
``assemble``, so training and serving read features written by the same code."""
from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.common.delta import read_table, table_exists
from jobs.common.errors import DataError
from jobs.feats import item, query, user, user_item
from jobs.feats.assemble import FeatureTables
from jobs.feats.base import Priors, Windows, price_band
from jobs.feats.user_item import brand_key, category_key, price_band_key

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from jobs.common.config import Settings

TABLES = ("features_user", "features_item", "features_query", "features_query_item",
          "features_user_item", "features_user_category")


def windows_of(cfg: Settings) -> Windows:
    return Windows.of(cfg.features.windows_days)


def priors_of(cfg: Settings) -> Priors:
    f = cfg.features
    return Priors(strength=f.ctr_prior_strength, ctr=f.prior_ctr, atc=f.prior_atc_rate,
                  purchase=f.prior_purchase_rate, cvr=f.prior_cvr)


def with_as_of(rows: DataFrame) -> DataFrame:
    """Training rows read the snapshot of the day before their own date."""
    return rows.withColumn(C.AS_OF_DATE, F.date_sub(F.col(C.EVENT_DATE), 1))


def requests(rows: DataFrame, catalog: DataFrame) -> dict[str, DataFrame]:
    """Per table, the (keys, as_of_date) the rows will look up (rows carry as_of_date)."""
    lt, ent, a = F.col(C.LIST_TYPE), F.col(C.ENTITY_ID), C.AS_OF_DATE
    users = rows.filter(lt == "user")
    queries = rows.filter(lt == "query")
    items = (rows.select(C.ITEM_ID, a)
             .unionByName(rows.filter(lt == "item").select(ent.alias(C.ITEM_ID), a)))
    cat = catalog.select(C.ITEM_ID, C.CATEGORY, C.BRAND, C.PRICE)
    aff = users.join(cat, on=C.ITEM_ID, how="inner").select(
        ent.alias(C.USER_ID), a, F.explode(F.array(
            category_key(F.col(C.CATEGORY)), brand_key(F.col(C.BRAND)),
            price_band_key(F.col(C.PRICE)))).alias(C.AFFINITY_KEY))
    return {
        "features_user": users.select(ent.alias(C.USER_ID), a),
        "features_item": items,
        "features_query": queries.select(ent.alias(C.QUERY), a),
        "features_query_item": queries.select(ent.alias(C.QUERY), C.ITEM_ID, a),
        "features_user_item": users.select(ent.alias(C.USER_ID), C.ITEM_ID, a),
        "features_user_category": aff.filter(F.col(C.AFFINITY_KEY).isNotNull()),
    }


def compute(events: DataFrame, catalog: DataFrame, users: DataFrame | None, *,
            reqs: dict[str, DataFrame] | None, as_of: date | None, windows: Windows,
            priors: Priors) -> dict[str, DataFrame]:
    """Every feature table for ``reqs`` and/or the full snapshot at ``as_of``."""
    r = reqs or {}
    return {
        "features_user": user.transform(events, catalog, users, windows=windows, priors=priors,
                                        as_of=as_of, requests=r.get("features_user")),
        "features_item": item.transform(events, catalog, windows=windows, priors=priors,
                                        as_of=as_of, requests=r.get("features_item")),
        "features_query": query.transform_query(events, windows=windows, as_of=as_of,
                                                requests=r.get("features_query")),
        "features_query_item": query.transform_query_item(
            events, windows=windows, priors=priors, as_of=as_of,
            requests=r.get("features_query_item")),
        "features_user_item": user_item.transform_user_item(
            events, windows=windows, as_of=as_of, requests=r.get("features_user_item")),
        "features_user_category": user_item.transform_affinity(
            events, catalog, windows=windows, as_of=as_of,
            requests=r.get("features_user_category")),
    }


def idf_for(spark: SparkSession, cfg: Settings, run_date: date) -> DataFrame:
    """The vocabulary fitted by the latest features run on or before ``run_date``."""
    if not table_exists(cfg, "features_text_idf"):
        raise DataError("table 'features_text_idf' does not exist; run `ranklake features` first")
    idf = read_table(spark, cfg, "features_text_idf", filters=[(C.RUN_DATE, "<=", run_date)])
    latest = idf.agg(F.max(C.RUN_DATE)).first()[0]
    if latest is None:
        raise DataError(f"features_text_idf has no run on or before {run_date}; "
                        "run `ranklake features` for that date")
    return idf.filter(F.col(C.RUN_DATE) == F.lit(latest)).drop(C.RUN_DATE)


def read_tables(spark: SparkSession, cfg: Settings, as_of_dates: list[date], *,
                idf_run_date: date, catalog: DataFrame | None = None) -> FeatureTables:
    flt = [(C.AS_OF_DATE, "in", [d.isoformat() for d in as_of_dates])]
    t = {name: read_table(spark, cfg, name, filters=flt) for name in TABLES}
    if not as_of_dates or t["features_item"].limit(1).count() == 0:
        raise DataError(f"no feature snapshot for as_of_date in {[str(d) for d in as_of_dates]}; "
                        "run `ranklake features --run-date <that date>` first")
    cat = catalog if catalog is not None else read_table(spark, cfg, "catalog_clean")
    return FeatureTables(user=t["features_user"], item=t["features_item"],
                         query=t["features_query"], query_item=t["features_query_item"],
                         user_item=t["features_user_item"],
                         affinity=t["features_user_category"],
                         idf=idf_for(spark, cfg, idf_run_date), catalog=cat)


def snapshot_dates(start: date, end: date) -> list[date]:
    """[start, end] inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


__all__ = ["TABLES", "compute", "price_band", "read_tables", "requests", "snapshot_dates"]
