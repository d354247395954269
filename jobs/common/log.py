"""Logging: UTC timestamps, one format for every job."""
from __future__ import annotations

import logging
import os
import time

_FMT = "%(asctime)sZ %(levelname)s %(name)s: %(message)s"


def get_logger(name: str) -> logging.Logger:
    root = logging.getLogger("ranklake")
    if not root.handlers:
        handler = logging.StreamHandler()
        formatter = logging.Formatter(_FMT, "%Y-%m-%dT%H:%M:%S")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        root.addHandler(handler)
        root.setLevel(os.environ.get("RANKLAKE_LOG", "INFO"))
        root.propagate = False
    return root.getChild(name)
