"""Spark-free test data shared by the serving and publish tests."""
from __future__ import annotations

from typing import Sequence

Lists = dict[str, Sequence[tuple[str, float]]]


def dataset(prefix: str, n_users: int = 6, k: int = 12) -> dict[str, Lists]:
    """Lists whose item ids all start with ``prefix`` (so a response shows which version it came
    from). Includes a tie (equal scores) and an entity whose first items are out of stock."""
    items = [f"{prefix}{j:02d}" for j in range(k + 4)]

    def lst(shift: int) -> list[tuple[str, float]]:
        ids = items[shift:shift + k]
        return [(x, round(1.0 - 0.05 * r, 4) if r != 2 else round(1.0 - 0.05 * 1, 4))
                for r, x in enumerate(ids)]

    return {"user": {f"u{u}": lst(u % 4) for u in range(n_users)},
            "query": {"red shoes": lst(1), "blue jeans": lst(2)},
            "item": {items[0]: lst(1), items[1]: lst(2)},
            "fallback": {"global": lst(0), "fashion/shoes/sneakers": lst(3)}}


def catalog_for(prefixes: Sequence[str], k: int = 12, out_of_stock: Sequence[str] = ()) -> dict:
    cat = {}
    for p in prefixes:
        for j in range(k + 4):
            iid = f"{p}{j:02d}"
            cat[iid] = ("fashion/shoes/sneakers" if j % 2 else "home/kitchen/pans", iid not in out_of_stock)
    cat["nocat"] = (None, True)
    return cat
