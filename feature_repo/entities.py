"""Feast entities: the join keys of the feature tables (see jobs/common/columns.py)."""
from __future__ import annotations

from feast import Entity, ValueType

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.STRING,
              description="a shopper (raw_users.user_id)")
item = Entity(name="item", join_keys=["item_id"], value_type=ValueType.STRING,
              description="a catalog item")
query = Entity(name="query", join_keys=["query"], value_type=ValueType.STRING,
               description="a normalised search query (jobs.common.text.normalize_query)")
affinity = Entity(name="affinity", join_keys=["affinity_key"], value_type=ValueType.STRING,
                  description="category=<path> | brand=<brand> | price_band=<n>")

ENTITIES = [user, item, query, affinity]
