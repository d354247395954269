"""Small deterministic clean datasets for the feature tests (until/independent of the generator)."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

from jobs.common.delta import write_table

EVENTS_SCHEMA = ("event_id string, user_id string, session_id string, query string, "
                 "item_id string, event_type string, ts timestamp, position int, event_date date")
CATALOG_SCHEMA = ("item_id string, title string, category string, brand string, price double, "
                  "in_stock boolean, created_at timestamp")
WORDS = ["red", "running", "shoes", "blue", "jacket", "wool", "socks", "leather", "bag", "hat"]
CATS = ["fashion/shoes/running", "fashion/outer/jackets", "fashion/acc/bags", "fashion/acc/hats"]


def catalog_rows(n_items: int = 12, seed: int = 3) -> list[tuple]:
    rnd = random.Random(seed)
    t0 = datetime(2026, 9, 1, tzinfo=timezone.utc)
    rows = []
    for i in range(n_items):
        title = " ".join(rnd.sample(WORDS, 3)).title()
        rows.append((f"i{i:02d}", title, CATS[i % len(CATS)], f"b{i % 3}",
                     float(5 + 7 * i), i % 5 != 0, t0 + timedelta(days=i)))
    return rows


def event_rows(start: date, days: int, *, n_users: int = 6, n_items: int = 12,
               sessions_per_day: int = 6, seed: int = 11) -> list[tuple]:
    """Search and browse sessions: 4 impressions each, some clicks / carts / purchases."""
    rnd = random.Random(seed)
    queries = ["red shoes", "wool jacket", "leather bag", "hat"]
    out: list[tuple] = []
    n = 0
    for d in range(days):
        day = start + timedelta(days=d)
        for s in range(sessions_per_day):
            user = f"u{rnd.randrange(n_users)}"
            sid = f"s{d:02d}{s:02d}"
            q = rnd.choice(queries) if s % 2 == 0 else None
            t = datetime(day.year, day.month, day.day, 8 + s, 0, tzinfo=timezone.utc)
            shown = rnd.sample(range(n_items), 4)
            for pos, it in enumerate(shown, start=1):
                n += 1
                out.append((f"e{n}", user, sid, q, f"i{it:02d}", "impression",
                            t + timedelta(seconds=pos), pos, day))
            clicked = False
            for pos, it in enumerate(shown, start=1):
                r = rnd.random()
                if r < 0.5:
                    continue
                clicked = True
                ts = t + timedelta(minutes=pos)
                n += 1
                out.append((f"e{n}", user, sid, q, f"i{it:02d}", "click", ts, pos, day))
                if r > 0.8:
                    n += 1
                    out.append((f"e{n}", user, sid, q, f"i{it:02d}", "add_to_cart",
                                ts + timedelta(seconds=5), None, day))
                if r > 0.9:
                    n += 1
                    out.append((f"e{n}", user, sid, q, f"i{it:02d}", "purchase",
                                ts + timedelta(seconds=9), None, day))
            if q is None and clicked:  # browse: more items shown after the first click
                for pos, it in enumerate(rnd.sample(range(n_items), 3), start=5):
                    n += 1
                    out.append((f"e{n}", user, sid, q, f"i{it:02d}", "impression",
                                t + timedelta(minutes=30, seconds=pos), pos, day))
                    if rnd.random() < 0.3:
                        n += 1
                        out.append((f"e{n}", user, sid, q, f"i{it:02d}", "click",
                                    t + timedelta(minutes=31, seconds=pos), pos, day))
    return out


def write_clean(spark, cfg, events: list[tuple], catalog: list[tuple]) -> None:
    write_table(spark.createDataFrame(events, EVENTS_SCHEMA), cfg, "interactions_clean",
                mode="overwrite")
    write_table(spark.createDataFrame(catalog, CATALOG_SCHEMA), cfg, "catalog_clean",
                mode="overwrite")
