"""notebooks/topk_inspect.ipynb runs top to bottom on the lists of the topk job test."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
NB = Path(__file__).resolve().parents[2] / "notebooks" / "topk_inspect.ipynb"


def test_topk_inspect_notebook_executes(lake, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    cfg, _ = lake
    monkeypatch.setenv("RANKLAKE_HOME", cfg.lake.root)
    monkeypatch.setenv("RANKLAKE_ENV", "test")
    monkeypatch.setenv("TOPK_RUN_DATE", "2026-11-20")
    nb = nbformat.read(NB, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": os.getcwd()}}).execute()
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "run date 2026-11-20 {'user': 6, 'query': 3, 'item': 8}" in text
    assert "[unknown/fallback] user u5" in text and "[query/fallback] 'mug'" in text
