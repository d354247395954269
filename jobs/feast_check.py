"""Checks used by ``ranklake feast parity|historical`` (jobs/feast_ops.py): the online store and
Feast's point-in-time retrieval must return exactly the values of our Delta snapshots. Samples are
bounded (``--sample`` rows per view) and are the only data collected to the driver."""
from __future__ import annotations

import math
from datetime import date, datetime, time, timezone
from typing import TYPE_CHECKING, Any, Sequence

from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.common.delta import read_table
from jobs.common.errors import CheckFailed

if TYPE_CHECKING:
    from feast import FeatureStore, FeatureView
    from pyspark.sql import SparkSession

    from jobs.common.config import Settings

REL_TOL = 1e-9
# view -> (list types whose training rows look it up, key column -> training_set column)
HISTORICAL = {
    "user_features": (("user",), {C.USER_ID: C.ENTITY_ID}),
    "item_features": (("user", "query", "item"), {C.ITEM_ID: C.ITEM_ID}),
    "query_features": (("query",), {C.QUERY: C.ENTITY_ID}),
    "query_item_features": (("query",), {C.QUERY: C.ENTITY_ID, C.ITEM_ID: C.ITEM_ID}),
    "user_item_features": (("user",), {C.USER_ID: C.ENTITY_ID, C.ITEM_ID: C.ITEM_ID}),
}


def view_spec(view: FeatureView) -> tuple[str, list[str], list[str]]:
    from feature_repo.entities import ENTITIES

    join_key = {e.name: e.join_key for e in ENTITIES}
    keys = [join_key[name] for name in view.entities]
    return view.tags["table"], keys, [f.name for f in view.features]


def same(a: Any, b: Any) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        none_a = a is None or (isinstance(a, float) and math.isnan(a))
        none_b = b is None or (isinstance(b, float) and math.isnan(b))
        return none_a and none_b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=REL_TOL)
    return a == b


def compare_rows(view: str, keys: Sequence[str], feats: Sequence[str],
                 expected: Sequence[dict], got: Sequence[dict], what: str = "online") -> list[str]:
    out = []
    for e, g in zip(expected, got):
        for f in feats:
            if not same(e[f], g[f]):
                ent = ", ".join(f"{k}={e[k]}" for k in keys)
                out.append(f"{view}.{f} for {ent}: {what}={g[f]!r} offline={e[f]!r}")
    return out


def parity_rows(spark: SparkSession, cfg: Settings, view: FeatureView, run_date: date,
                sample: int) -> tuple[list[dict], list[str], list[str]]:
    """A deterministic sample (by key hash) of the serving snapshot as_of_date = run_date."""
    table, keys, feats = view_spec(view)
    df = read_table(spark, cfg, table, filters=[(C.AS_OF_DATE, "=", run_date)])
    rows = (df.orderBy(F.xxhash64(*keys), *keys).limit(sample).select(*keys, *feats).collect())
    return [r.asDict() for r in rows], keys, feats


def historical_check(spark: SparkSession, cfg: Settings, store: FeatureStore,
                     views: dict[str, FeatureView], run_date: date, sample: int) -> int:
    """Feast get_historical_features on sampled training rows (timestamp = the row's date 00:00)
    == the Spark as-of join (snapshot as_of_date = row date - 1). Returns rows compared."""
    import pandas as pd

    ts = read_table(spark, cfg, "training_set", filters=[(C.RUN_DATE, "=", run_date)])
    checked = 0
    for name, (lists, keymap) in HISTORICAL.items():
        table, keys, feats = view_spec(views[name])
        rows = (ts.filter(F.col(C.LIST_TYPE).isin(*lists))
                .select(*[F.col(src).alias(k) for k, src in keymap.items()], C.EVENT_DATE)
                .distinct().orderBy(F.xxhash64(*keys, C.EVENT_DATE), *keys).limit(sample))
        snap = read_table(spark, cfg, table).select(*keys, C.AS_OF_DATE, *feats)
        spark_side = (rows.withColumn(C.AS_OF_DATE, F.date_sub(C.EVENT_DATE, 1))
                      .join(snap, on=[*keys, C.AS_OF_DATE], how="left")
                      .select(*keys, C.EVENT_DATE, *feats).collect())
        if not spark_side:
            continue
        expected = [r.asDict() for r in spark_side]
        entity_df = pd.DataFrame([{**{k: r[k] for k in keys}, "_rid": i,
                                   "event_timestamp": datetime.combine(r[C.EVENT_DATE], time(0),
                                                                       tzinfo=timezone.utc)}
                                  for i, r in enumerate(expected)])
        feast_df = store.get_historical_features(
            entity_df=entity_df, features=[f"{name}:{f}" for f in feats]).to_df()
        by_rid = {int(r["_rid"]): r for r in feast_df.to_dict("records")}
        # Feast's dask store drops an entity row whose only matches all fall outside the ttl
        # (other snapshots of the same entity): that is "no value", like a null match
        got = [{f: _py(by_rid.get(i, {}).get(f)) for f in feats} for i in range(len(expected))]
        bad = compare_rows(name, [*keys, C.EVENT_DATE], feats, expected, got, what="feast")
        if bad:
            raise CheckFailed(f"feast historical retrieval differs from the Spark as-of join: "
                              f"{bad[0]}" + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))
        checked += len(expected)
    return checked


def _py(v: Any) -> Any:
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return v.item() if hasattr(v, "item") else v
