# Glue Data Catalog database + top-K Delta tables (external, native Delta
# tables readable by Athena engine v3), an Athena workgroup for downstream
# teams and a read-only consumer IAM policy.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  glue_arn   = "arn:${local.partition}:glue:${local.region}:${local.account_id}"
  lake_arn   = "arn:${local.partition}:s3:::${var.lake_bucket}"
  art_arn    = "arn:${local.partition}:s3:::${var.artifacts_bucket}"
}

resource "aws_glue_catalog_database" "this" {
  name         = var.database_name
  description  = "ranklake Delta tables (top-K lists per user/query/item)"
  location_uri = "s3://${var.lake_bucket}/tables/"
  tags         = var.tags
}

resource "aws_glue_catalog_table" "topk" {
  for_each      = toset(var.table_names)
  name          = each.key
  database_name = aws_glue_catalog_database.this.name
  description   = "Top-K list per entity (${each.key}), Delta table partitioned by run_date"
  table_type    = "EXTERNAL_TABLE"

  parameters = {
    EXTERNAL                     = "TRUE"
    table_type                   = "DELTA"
    classification               = "delta"
    "spark.sql.sources.provider" = "delta"
  }

  partition_keys {
    name = "run_date"
    type = "date"
  }

  storage_descriptor {
    location      = "s3://${var.lake_bucket}/tables/${each.key}"
    input_format  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    output_format = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"

    ser_de_info {
      serialization_library = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    }

    columns {
      name = "entity_id"
      type = "string"
    }
    columns {
      name = "items"
      type = "array<struct<rank:int,item_id:string,score:double>>"
    }
    columns {
      name = "source"
      type = "string"
    }
    columns {
      name = "model_version"
      type = "string"
    }
    columns {
      name = "generated_at"
      type = "timestamp"
    }
  }
}

resource "aws_athena_workgroup" "consumers" {
  name          = "${var.name}-consumers"
  description   = "Read-only queries over the ranklake top-K tables"
  force_destroy = false

  configuration {
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true

    engine_version {
      selected_engine_version = "Athena engine version 3"
    }

    result_configuration {
      output_location = "s3://${var.artifacts_bucket}/athena-results/"
      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }

  tags = var.tags
}

# --- read-only consumer policy -------------------------------------------------

data "aws_iam_policy_document" "consumer" {
  statement {
    sid = "ReadCatalog"
    actions = [
      "glue:GetDatabase", "glue:GetTable", "glue:GetTables",
      "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition",
    ]
    resources = concat(
      ["${local.glue_arn}:catalog", "${local.glue_arn}:database/${var.database_name}"],
      [for t in var.table_names : "${local.glue_arn}:table/${var.database_name}/${t}"],
    )
  }

  statement {
    sid       = "ListTopkTables"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.lake_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = flatten([for t in var.table_names : ["tables/${t}", "tables/${t}/*"]])
    }
  }

  statement {
    sid       = "ReadTopkTables"
    actions   = ["s3:GetObject"]
    resources = [for t in var.table_names : "${local.lake_arn}/tables/${t}/*"]
  }

  statement {
    sid       = "QueryWorkgroup"
    actions   = ["athena:StartQueryExecution", "athena:StopQueryExecution", "athena:GetQueryExecution", "athena:GetQueryResults", "athena:GetWorkGroup"]
    resources = [aws_athena_workgroup.consumers.arn]
  }

  statement {
    sid       = "AthenaResultsBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.art_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["athena-results/*"]
    }
  }

  statement {
    sid       = "AthenaResultsObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"]
    resources = ["${local.art_arn}/athena-results/*"]
  }

  statement {
    sid       = "DecryptViaS3"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "consumer" {
  name        = "${var.name}-topk-consumer-readonly"
  description = "Read-only access to the ranklake top-K tables via Glue/Athena"
  policy      = data.aws_iam_policy_document.consumer.json
  tags        = var.tags
}
