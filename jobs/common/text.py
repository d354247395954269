"""Query normalisation: one definition, in Spark (batch) and in pure Python (serving).

Rule: lower-case; every run of characters that are not letters or digits becomes one space;
trim. ``"  Red  Running-Shoes!! "`` -> ``"red running shoes"``. Both forms are tested against
each other on random strings, so the lookup layer finds exactly the keys the batch wrote.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column

_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)
SPARK_NON_ALNUM = r"[^\p{L}\p{N}]+"
MAX_QUERY_LEN = 200


def normalize_query(text: str | None) -> str | None:
    if text is None:
        return None
    return _NON_ALNUM.sub(" ", text.lower()).strip()


def normalize_query_col(col: Column) -> Column:
    from pyspark.sql import functions as F

    return F.trim(F.regexp_replace(F.lower(col), SPARK_NON_ALNUM, " "))


def query_variants(norm: str) -> list[str]:
    """Cheaper variants tried by the serving fallback chain, most specific first:
    the query itself, without a trailing plural 's', then its tokens sorted (word order)."""
    out = [norm]
    singular = " ".join(t[:-1] if len(t) > 3 and t.endswith("s") else t for t in norm.split())
    ordered = " ".join(sorted(norm.split()))
    for v in (singular, ordered, " ".join(sorted(singular.split()))):
        if v and v not in out:
            out.append(v)
    return out
