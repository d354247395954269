"""P1: the feature build in Spark vs the same aggregations in DuckDB on the same Parquet data.

Workload: the serving snapshot as of the run date D -- features_user, features_item,
features_query, features_query_item, features_user_item, features_user_category -- computed from
interactions_clean (every event_date <= D), catalog_clean and raw_users.
* Spark: ``jobs.feats.build.compute(..., as_of=D)`` (the code the features stage runs), each table
  materialised with the ``noop`` sink (no write cost on either side).
* DuckDB: hand-written SQL giving the same columns from the same Parquet files (the Delta table's
  current file list, hive partition column ``event_date``), each table materialised with
  ``CREATE TEMP TABLE``; ``threads`` = Spark's cores.
Row counts of every table are compared once (a mismatch is reported in the note).
Both sides compute one date: Spark's full snapshot takes the single-date path of
``jobs.feats.base.windowed`` (one filtered aggregate per table, like the SQL); the training rows
at many dates, which the stage also computes, take the general window pass and are not measured.
"""
from __future__ import annotations

from datetime import date

from benchmarks.common import Target, paired, say, timed
from benchmarks.context import Bench

SQL = {
    "features_item": """
    WITH agg AS (SELECT item_id,
        sum(n_impr) FILTER (WHERE d > {D} - {S}) AS i_impr_short,
        sum(n_impr) FILTER (WHERE d > {D} - {M}) AS i_impr_mid,
        sum(n_impr) FILTER (WHERE d > {D} - {L}) AS i_impr_long,
        sum(n_click) FILTER (WHERE d > {D} - {S}) AS i_clicks_short,
        sum(n_click) FILTER (WHERE d > {D} - {M}) AS i_clicks_mid,
        sum(n_click) FILTER (WHERE d > {D} - {L}) AS i_clicks_long,
        sum(n_atc) FILTER (WHERE d > {D} - {L}) AS atc_long,
        sum(n_purchase) FILTER (WHERE d > {D} - {L}) AS purchase_long
      FROM ev GROUP BY item_id),
    keys AS (SELECT item_id FROM agg UNION SELECT item_id FROM catalog)
    SELECT k.item_id, c.category, c.brand,
      coalesce(i_impr_short, 0)::DOUBLE AS i_impr_short, coalesce(i_impr_mid, 0)::DOUBLE AS i_impr_mid,
      coalesce(i_impr_long, 0)::DOUBLE AS i_impr_long,
      coalesce(i_clicks_short, 0)::DOUBLE AS i_clicks_short,
      coalesce(i_clicks_mid, 0)::DOUBLE AS i_clicks_mid,
      coalesce(i_clicks_long, 0)::DOUBLE AS i_clicks_long,
      (coalesce(i_clicks_long, 0) + {K} * {CTR}) / (coalesce(i_impr_long, 0) + {K}) AS i_ctr,
      (coalesce(atc_long, 0) + {K} * {ATC}) / (coalesce(i_impr_long, 0) + {K}) AS i_atc_rate,
      (coalesce(purchase_long, 0) + {K} * {PUR}) / (coalesce(i_impr_long, 0) + {K}) AS i_purchase_rate,
      ln((coalesce(i_clicks_mid, 0) / {M} + 0.1) / (coalesce(i_clicks_long, 0) / {L} + 0.1)) AS i_trend,
      c.price AS i_price,
      (epoch(DATE '{DATE}' + 1) - epoch(c.created_at)) / 86400.0 AS i_age_days,
      c.in_stock::DOUBLE AS i_in_stock
    FROM keys k LEFT JOIN agg USING (item_id) LEFT JOIN catalog c USING (item_id)""",
    "features_user": """
    WITH e AS (SELECT ev.*, c.price FROM ev LEFT JOIN catalog c USING (item_id)
               WHERE user_id IS NOT NULL),
    agg AS (SELECT user_id,
        sum(n_impr) FILTER (WHERE d > {D} - {S}) AS u_impr_short,
        sum(n_impr) FILTER (WHERE d > {D} - {M}) AS u_impr_mid,
        sum(n_impr) FILTER (WHERE d > {D} - {L}) AS u_impr_long,
        sum(n_click) FILTER (WHERE d > {D} - {S}) AS u_clicks_short,
        sum(n_click) FILTER (WHERE d > {D} - {M}) AS u_clicks_mid,
        sum(n_click) FILTER (WHERE d > {D} - {L}) AS u_clicks_long,
        sum(n_purchase) FILTER (WHERE d > {D} - {L}) AS u_purchases_long,
        sum(price) FILTER (WHERE d > {D} - {L} AND engaged) AS price_sum,
        count(price) FILTER (WHERE d > {D} - {L} AND engaged) AS price_n,
        max(ts) AS last_ts
      FROM e GROUP BY user_id),
    attrs AS (SELECT user_id, min(segment) AS segment, min(signup_date) AS signup_date
              FROM users GROUP BY user_id)
    SELECT a.user_id,
      coalesce(u_impr_short, 0)::DOUBLE AS u_impr_short, coalesce(u_impr_mid, 0)::DOUBLE AS u_impr_mid,
      coalesce(u_impr_long, 0)::DOUBLE AS u_impr_long,
      coalesce(u_clicks_short, 0)::DOUBLE AS u_clicks_short,
      coalesce(u_clicks_mid, 0)::DOUBLE AS u_clicks_mid,
      coalesce(u_clicks_long, 0)::DOUBLE AS u_clicks_long,
      coalesce(u_purchases_long, 0)::DOUBLE AS u_purchases_long,
      (coalesce(u_clicks_long, 0) + {K} * {CTR}) / (coalesce(u_impr_long, 0) + {K}) AS u_ctr,
      (coalesce(u_purchases_long, 0) + {K} * {CVR}) / (coalesce(u_clicks_long, 0) + {K}) AS u_cvr,
      (epoch(DATE '{DATE}' + 1) - epoch(last_ts)) / 86400.0 AS u_recency_days,
      (DATE '{DATE}' + 1 - t.signup_date)::DOUBLE AS u_tenure_days,
      CASE WHEN t.segment IS NOT NULL THEN (hash(t.segment) % 1000)::DOUBLE END AS u_segment_code,
      CASE WHEN price_n > 0 THEN price_sum / price_n END AS u_mean_price
    FROM agg a LEFT JOIN attrs t USING (user_id)""",
    "features_query": """
    SELECT query,
      count(DISTINCT (session_id, d)) FILTER (WHERE d > {D} - {L})::DOUBLE AS q_volume,
      count(DISTINCT item_id) FILTER (WHERE engaged)::DOUBLE AS q_distinct_items,
      (CASE WHEN length(query) > 0 THEN len(string_split(query, ' ')) ELSE 0 END)::DOUBLE AS q_len_tokens,
      length(query)::DOUBLE AS q_len_chars
    FROM ev WHERE query IS NOT NULL GROUP BY query""",
    "features_query_item": """
    WITH agg AS (SELECT query, item_id,
        sum(n_impr) FILTER (WHERE d > {D} - {L}) AS qi_impr,
        sum(n_click) FILTER (WHERE d > {D} - {L}) AS qi_clicks,
        sum(n_atc) FILTER (WHERE d > {D} - {L}) AS atc,
        sum(n_purchase) FILTER (WHERE d > {D} - {L}) AS purchase,
        sum(CASE WHEN n_impr = 1 THEN {CTR} / log2(coalesce(position, 1) + 1.0) END)
          FILTER (WHERE d > {D} - {L}) AS exp_click
      FROM ev WHERE query IS NOT NULL GROUP BY query, item_id)
    SELECT query, item_id, coalesce(qi_impr, 0)::DOUBLE AS qi_impr,
      coalesce(qi_clicks, 0)::DOUBLE AS qi_clicks,
      (coalesce(qi_clicks, 0) + {K} * {CTR}) / (coalesce(qi_impr, 0) + {K}) AS qi_ctr,
      (coalesce(atc, 0) + {K} * {ATC}) / (coalesce(qi_impr, 0) + {K}) AS qi_atc_rate,
      (coalesce(purchase, 0) + {K} * {PUR}) / (coalesce(qi_impr, 0) + {K}) AS qi_purchase_rate,
      (coalesce(qi_clicks, 0) + {K} * {CTR}) / (coalesce(exp_click, 0) + {K} * {CTR}) AS qi_pos_norm_ctr
    FROM agg""",
    "features_user_item": """
    SELECT user_id, item_id,
      coalesce(sum(n_impr) FILTER (WHERE d > {D} - {L}), 0)::DOUBLE AS ui_impr,
      coalesce(sum(n_click) FILTER (WHERE d > {D} - {L}), 0)::DOUBLE AS ui_clicks,
      coalesce(sum(n_atc) FILTER (WHERE d > {D} - {L}), 0)::DOUBLE AS ui_atc,
      coalesce(sum(n_purchase) FILTER (WHERE d > {D} - {L}), 0)::DOUBLE AS ui_purchases,
      (epoch(DATE '{DATE}' + 1) - epoch(max(ts))) / 86400.0 AS ui_recency_days
    FROM ev WHERE user_id IS NOT NULL GROUP BY user_id, item_id""",
    "features_user_category": """
    WITH e AS (SELECT ev.user_id, ev.d, ev.n_click, unnest([
        'category=' || c.category, 'brand=' || c.brand,
        'price_band=' || floor(log2(greatest(c.price, 1.0)))::INT::VARCHAR]) AS affinity_key
      FROM ev JOIN catalog c USING (item_id) WHERE ev.user_id IS NOT NULL AND ev.engaged),
    agg AS (SELECT user_id, affinity_key, split_part(affinity_key, '=', 1) AS facet,
        count(*) FILTER (WHERE d > {D} - {L}) AS aff_events,
        coalesce(sum(n_click) FILTER (WHERE d > {D} - {L}), 0) AS aff_clicks
      FROM e WHERE affinity_key IS NOT NULL GROUP BY user_id, affinity_key),
    tot AS (SELECT user_id, facet, sum(aff_events) AS total FROM agg GROUP BY user_id, facet)
    SELECT user_id, affinity_key, aff_events::DOUBLE AS aff_events, aff_clicks::DOUBLE AS aff_clicks,
      CASE WHEN total > 0 THEN aff_events / total ELSE 0.0 END AS aff_share
    FROM agg JOIN tot USING (user_id, facet)""",
}


def _files(b: Bench, name: str) -> list[str]:
    from deltalake import DeltaTable

    from jobs.common.tables import table_path

    return list(DeltaTable(table_path(b.cfg, name)).file_uris())


def _sql_list(b: Bench, name: str) -> str:
    """The table's current files as a SQL list literal (views cannot take parameters)."""
    files = [f.removeprefix("file://") for f in _files(b, name)]
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def duckdb_session(b: Bench, as_of: date):  # noqa: ANN201
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {b.spark.sparkContext.defaultParallelism}")
    con.execute("SET TimeZone = 'UTC'")
    # bounded like Spark's driver: spill to the scratch dir instead of growing (10M events)
    con.execute(f"SET memory_limit = '{b.cfg.spark.driver_memory.upper()}B'")
    con.execute(f"SET temp_directory = '{b.scratch / 'duckdb_tmp'}'")
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet({_sql_list(b, 'interactions_clean')}, "
                "hive_partitioning = true, hive_types = {'event_date': DATE})")
    con.execute(f"CREATE VIEW catalog AS SELECT * FROM read_parquet({_sql_list(b, 'catalog_clean')})")
    con.execute(f"CREATE VIEW users AS SELECT * FROM read_parquet({_sql_list(b, 'raw_users')})")
    con.execute(f"""CREATE VIEW ev AS SELECT *, (event_date - DATE '1970-01-01') AS d,
        (event_type = 'impression')::BIGINT AS n_impr, (event_type = 'click')::BIGINT AS n_click,
        (event_type = 'add_to_cart')::BIGINT AS n_atc, (event_type = 'purchase')::BIGINT AS n_purchase,
        event_type IN ('click', 'add_to_cart', 'purchase') AS engaged
        FROM events WHERE event_date <= DATE '{as_of.isoformat()}'""")
    return con


def run(b: Bench) -> None:
    from jobs.common import columns as C
    from jobs.common.delta import read_table
    from jobs.feats import build

    spark, cfg, d = b.spark, b.cfg, b.run_date
    windows, pri = build.windows_of(cfg), build.priors_of(cfg)
    params = {"D": (d - date(1970, 1, 1)).days, "DATE": d.isoformat(), "S": windows.short,
              "M": windows.mid, "L": windows.long, "K": pri.strength, "CTR": pri.ctr,
              "ATC": pri.atc, "PUR": pri.purchase, "CVR": pri.cvr}
    events = read_table(spark, cfg, "interactions_clean", filters=[(C.EVENT_DATE, "<=", d)])
    catalog, users = read_table(spark, cfg, "catalog_clean"), read_table(spark, cfg, "raw_users")

    def spark_build() -> dict[str, int]:
        tables = build.compute(events, catalog, users, reqs=None, as_of=d, windows=windows,
                               priors=pri)
        for df in tables.values():
            df.write.format("noop").mode("overwrite").save()
        return {}

    con = duckdb_session(b, d)

    def duck_build() -> None:
        for name, sql in SQL.items():
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql.format(**params)}")

    reps = b.profile.big_repeats
    ours, ref = [], []
    for i in range(reps):  # alternate: a load change on the shared box hits both alike
        ours += timed(spark_build, 1, f"features snapshot in Spark {i + 1}/{reps}")
        ref += timed(duck_build, 1, f"same aggregations in DuckDB {i + 1}/{reps}")
    note = "lower is better; ratio = Spark / DuckDB"
    if b.profile.name != "10M":
        tables = build.compute(events, catalog, users, reqs=None, as_of=d, windows=windows, priors=pri)
        mism = {}
        for name, df in tables.items():
            n_spark = df.count()
            n_duck = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            if n_spark != n_duck:
                mism[name] = (n_spark, n_duck)
        note += "; row counts of all 6 tables equal" if not mism else f"; ROW COUNTS DIFFER {mism}"
        say(f"features vs duckdb row counts: {'equal' if not mism else mism}")
    con.close()
    b.add(paired("P1.features_vs_duckdb", "P1", "feature snapshot (6 tables) wall time", "s", ours,
                 "DuckDB SQL, same Parquet files, same threads", ref, higher_is_better=False,
                 target=Target("<=", 3.0, "ratio", "Spark <= 3x DuckDB"), note=note))
