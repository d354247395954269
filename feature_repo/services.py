"""Feature services: ``ranking_training`` (historical retrieval, every view) and
``ranking_serving`` (online lookups; the same views, so serving reads what training read)."""
from __future__ import annotations

from feast import FeatureService, FeatureView

from feature_repo.views import VIEWS


def build_services(views: dict[str, FeatureView]) -> dict[str, FeatureService]:
    return {
        "ranking_training": FeatureService(name="ranking_training", features=list(views.values()),
                                           description="point-in-time training features"),
        "ranking_serving": FeatureService(name="ranking_serving", features=list(views.values()),
                                          description="online features materialised to Redis"),
    }


SERVICES = build_services(VIEWS)
ranking_training = SERVICES["ranking_training"]
ranking_serving = SERVICES["ranking_serving"]
