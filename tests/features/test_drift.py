"""PSI on known distributions."""
from __future__ import annotations

import math

import pytest

from jobs import drift


def test_psi_known_values():
    assert drift.psi([50, 50], [50, 50]) == 0.0
    assert drift.psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(
        0.4 * math.log(1.8) + (-0.4) * math.log(0.2))
    assert drift.psi([10, 0], [5, 5]) == pytest.approx(
        (0.5 - 1) * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4))
    assert drift.status_of(0.3, 0.25, False) == "warn" and drift.status_of(0.3, 0.25, True) == "fail"
    assert drift.status_of(0.25, 0.25, True) == "ok"


def test_psi_on_frames(spark):
    ref = spark.createDataFrame([(float(i % 100), 1.0) for i in range(1000)], "a double, b double")
    same = ref
    shifted = spark.createDataFrame([(float(i % 100) + 50.0 if i % 2 else None, 1.0)
                                     for i in range(1000)], "a double, b double")
    assert drift.compare(same, ref, ["a", "b"], 10) == {"a": (0.0, 1000, 1000),
                                                        "b": (0.0, 1000, 1000)}
    res = drift.compare(shifted, ref, ["a", "b"], 10)
    # half the rows are null (own bin, absent in the reference), the rest sit in the top bins
    assert res["a"][0] > 2.0 and res["b"][0] == 0.0 and res["a"][1:] == (1000, 1000)
