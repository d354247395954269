"""Delta IO on S3: tasks write through pyarrow's S3 filesystem, delta-rs commits (moto server)."""
from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.common import delta
from jobs.common.config import load_config


@pytest.fixture(scope="module")
def s3_cfg(moto_server):
    import boto3

    endpoint = moto_server
    mp = pytest.MonkeyPatch()
    for k, v in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test",
                 "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
                 "AWS_DEFAULT_REGION": "us-east-1", "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}.items():
        mp.setenv(k, v)
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="lake-test")
    yield load_config("test", ["lake.root=s3://lake-test/lake"])
    mp.undo()


def test_write_replace_and_read_back_on_s3(spark, s3_cfg):
    import boto3
    from deltalake import DeltaTable

    df = spark.range(30).select(F.format_string("u%02d", "id").alias("entity_id"),
                                F.array().cast("array<struct<rank:int,item_id:string,score:double>>")
                                .alias("items"), F.lit("fallback").alias("source"),
                                F.lit("m").alias("model_version"),
                                F.when(F.col("id") < 10, F.lit(dt.date(2026, 11, 19)))
                                .otherwise(F.lit(dt.date(2026, 11, 20))).alias("run_date"),
                                F.to_timestamp(F.lit("2026-11-20 01:02:03")).alias("generated_at"))
    assert delta.write_table(df, s3_cfg, "topk_user") == 0
    new = df.where("run_date = '2026-11-20'").limit(5).withColumn("model_version", F.lit("m2"))
    assert delta.write_table(new, s3_cfg, "topk_user", "replace") == 1
    got = delta.read_table(spark, s3_cfg, "topk_user")  # arrow reader: no hadoop-aws needed
    assertDataFrameEqual(got, df.where("run_date = '2026-11-19'").unionByName(new))
    assertDataFrameEqual(delta.read_table(spark, s3_cfg, "topk_user", version=0), df)
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="lake-test")["Contents"]]
    assert "lake/tables/topk_user/_delta_log/00000000000000000001.json" in keys
    assert any(k.startswith("lake/tables/topk_user/run_date=2026-11-20/part-") for k in keys)
    table = DeltaTable("s3://lake-test/lake/tables/topk_user",
                       storage_options=delta.storage_options(s3_cfg))
    assert table.version() == 1 and len(table.to_pandas()) == 15
    # the files the publish writers read themselves, opened on S3 through pyarrow
    import pyarrow.parquet as pq

    tf = delta.table_files(s3_cfg, "topk_user", filters=[("run_date", "=", dt.date(2026, 11, 20))])
    ids = []
    for rel in tf.paths:
        with tf.open(rel) as fh:
            ids += pq.ParquetFile(fh).read(columns=["entity_id"]).column("entity_id").to_pylist()
    assert sorted(ids) == sorted(r["entity_id"] for r in new.collect())
