"""Text relevance between a query text and an item's title / category path: BM25 and TF-IDF
cosine, in Spark (no UDFs).

The vocabulary and both IDFs are fitted on the *training window only*: the documents are the
catalog entries of items with at least one event in [train_start, train_end). Terms outside that
vocabulary contribute nothing (neither to scores nor to vector norms); document length (BM25's dl)
counts every token. Query terms count once for BM25 and with their multiplicity for TF-IDF.
For item lists the "query" is the anchor item's title (see jobs/feats/assemble.py).
"""
from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.common import columns as C
from jobs.common.text import normalize_query_col

FIELDS = (C.TITLE, C.CATEGORY)
QTEXT = "_qtext"
FIELD, TERM = "field", "term"
IDF_OUTPUT = (FIELD, TERM, "df", "idf_bm25", "idf_tfidf", "n_docs", "avgdl")
OUTPUT = (QTEXT, C.ITEM_ID, *C.TEXT_FEATURES)


def tokens(text: Column) -> Column:
    """array<string> of normalised tokens (empty for null/blank text)."""
    norm = F.coalesce(normalize_query_col(text), F.lit(""))
    return F.filter(F.split(norm, " "), lambda t: F.length(t) > 0)


def doc_terms(catalog: DataFrame) -> DataFrame:
    """(item_id, field, term, tf, dl) for title and category of every catalog row given."""
    parts = []
    for field in FIELDS:
        parts.append(catalog.select(C.ITEM_ID, F.lit(field).alias(FIELD),
                                    tokens(F.col(field)).alias("_toks")))
    docs = parts[0].unionByName(parts[1]).withColumn("dl", F.size("_toks"))
    return (docs.select(C.ITEM_ID, FIELD, "dl", F.explode("_toks").alias(TERM))
            .groupBy(C.ITEM_ID, FIELD, TERM, "dl").agg(F.count("*").alias("tf"))
            .select(C.ITEM_ID, FIELD, TERM, "tf", "dl"))


def fit_idf(events: DataFrame, catalog: DataFrame, *, train_start: date, train_end: date
            ) -> DataFrame:
    """Vocabulary + IDFs per field from items with events in [train_start, train_end)."""
    items = (events.filter((F.col(C.EVENT_DATE) >= F.lit(train_start))
                           & (F.col(C.EVENT_DATE) < F.lit(train_end)))
             .select(C.ITEM_ID).distinct())
    docs = catalog.join(items, on=C.ITEM_ID, how="left_semi")
    terms = doc_terms(docs)
    stats = (docs.select(C.ITEM_ID, *[F.size(tokens(F.col(f))).alias(f) for f in FIELDS])
             .agg(F.count("*").alias("n_docs"),
                  *[F.avg(f).alias(f"avgdl_{f}") for f in FIELDS]))
    n = F.col("n_docs").cast("double")
    df_ = F.col("df").cast("double")
    return (terms.groupBy(FIELD, TERM).agg(F.count("*").alias("df"))
            .crossJoin(stats)
            .withColumn("avgdl", F.when(F.col(FIELD) == C.TITLE, F.col(f"avgdl_{C.TITLE}"))
                        .otherwise(F.col(f"avgdl_{C.CATEGORY}")))
            .withColumn("idf_bm25", F.log(F.lit(1.0) + (n - df_ + 0.5) / (df_ + 0.5)))
            .withColumn("idf_tfidf", F.log((n + 1.0) / (df_ + 1.0)) + F.lit(1.0))
            .select(FIELD, TERM, F.col("df").cast("long").alias("df"), "idf_bm25", "idf_tfidf",
                    F.col("n_docs").cast("long").alias("n_docs"),
                    F.col("avgdl").cast("double").alias("avgdl")))


def transform(pairs: DataFrame, catalog: DataFrame, idf: DataFrame, *, k1: float = 1.2,
              b: float = 0.75) -> DataFrame:
    """pairs: (_qtext, item_id) -> the same pairs + the four text features (0 when no overlap)."""
    pairs = pairs.select(QTEXT, C.ITEM_ID).filter(F.col(QTEXT).isNotNull()).distinct()
    qterms = (pairs.select(QTEXT).distinct()
              .select(QTEXT, F.explode(tokens(F.col(QTEXT))).alias(TERM))
              .groupBy(QTEXT, TERM).agg(F.count("*").alias("qtf")))
    vocab = idf.select(FIELD, TERM, "idf_bm25", "idf_tfidf", "avgdl")
    dterms = (doc_terms(catalog.join(pairs.select(C.ITEM_ID).distinct(), on=C.ITEM_ID,
                                     how="left_semi"))
              .join(vocab, on=[FIELD, TERM], how="inner")
              .withColumn("w_d", F.col("tf") * F.col("idf_tfidf")))
    dnorm = dterms.groupBy(C.ITEM_ID, FIELD).agg(F.sqrt(F.sum(F.col("w_d") ** 2)).alias("dnorm"))
    qvec = (qterms.crossJoin(F.broadcast(idf.select(FIELD).distinct()))
            .join(vocab, on=[FIELD, TERM], how="inner")
            .withColumn("w_q", F.col("qtf") * F.col("idf_tfidf")))
    qnorm = qvec.groupBy(QTEXT, FIELD).agg(F.sqrt(F.sum(F.col("w_q") ** 2)).alias("qnorm"))
    tf, dl = F.col("tf"), F.col("dl")
    bm25_term = (F.col("idf_bm25") * tf * F.lit(k1 + 1.0)
                 / (tf + F.lit(k1) * (F.lit(1.0 - b) + F.lit(b) * dl / F.col("avgdl"))))
    scored = (pairs.join(qvec.select(QTEXT, FIELD, TERM, "w_q"), on=QTEXT, how="inner")
              .join(dterms.select(C.ITEM_ID, FIELD, TERM, "tf", "dl", "w_d", "idf_bm25", "avgdl"),
                    on=[C.ITEM_ID, FIELD, TERM], how="inner")
              .groupBy(QTEXT, C.ITEM_ID, FIELD)
              .agg(F.sum(bm25_term).alias("bm25"), F.sum(F.col("w_q") * F.col("w_d")).alias("dot"))
              .join(qnorm, on=[QTEXT, FIELD], how="left")
              .join(dnorm, on=[C.ITEM_ID, FIELD], how="left")
              .withColumn("cos", F.col("dot") / (F.col("qnorm") * F.col("dnorm"))))
    out = pairs
    for field, bm_name, cos_name in ((C.TITLE, "txt_bm25_title", "txt_tfidf_title"),
                                     (C.CATEGORY, "txt_bm25_category", "txt_tfidf_category")):
        part = scored.filter(F.col(FIELD) == field).select(
            QTEXT, C.ITEM_ID, F.col("bm25").alias(bm_name), F.col("cos").alias(cos_name))
        out = out.join(part, on=[QTEXT, C.ITEM_ID], how="left")
    return out.select(QTEXT, C.ITEM_ID, *[F.coalesce(F.col(c), F.lit(0.0)).cast("double").alias(c)
                                          for c in C.TEXT_FEATURES])
