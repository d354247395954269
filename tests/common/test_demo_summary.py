"""`make demo`'s closing summary: every Delta table with its version and exact row count."""
from __future__ import annotations

from jobs import demo_summary
from jobs.common.config import load_config
from jobs.common.delta import write_table


def test_summary_lists_tables_with_versions_and_rows(spark, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RANKLAKE_HOME", str(tmp_path / "lake"))
    cfg = load_config("test")
    df = spark.createDataFrame([(f"u{i}", "i1", 1.0) for i in range(7)],
                               "user_id string, item_id string, score double")
    write_table(df, cfg, "catalog_clean")
    write_table(df.limit(3), cfg, "catalog_clean", mode="append")
    assert demo_summary.main(["--env", "test", "--run-date", "2026-11-20"]) in (0, None)
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("catalog_clean "))
    assert line.split()[1:3] == ["1", "10"]  # version 1, 7 + 3 rows
    assert "topk_user" not in out.split("run records:")[0]  # absent tables are skipped
