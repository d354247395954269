# Service role (EMR control plane) and EC2 instance profile / job role.

# --- service role ----------------------------------------------------------

data "aws_iam_policy_document" "service_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["elasticmapreduce.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "service" {
  name               = "${var.name}-emr-service"
  assume_role_policy = data.aws_iam_policy_document.service_assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "service_managed" {
  role       = aws_iam_role.service.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"
}

data "aws_iam_policy_document" "service" {
  statement {
    sid       = "PassInstanceRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.ec2.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ec2.amazonaws.com"]
    }
  }

  # EBS encryption with the CMK (LocalDiskEncryptionConfiguration).
  statement {
    sid       = "UseKmsForEbs"
    actions   = ["kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncrypt*"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_policy" "service" {
  name   = "${var.name}-emr-service"
  policy = data.aws_iam_policy_document.service.json
  tags   = var.tags
}

resource "aws_iam_role_policy_attachment" "service" {
  role       = aws_iam_role.service.name
  policy_arn = aws_iam_policy.service.arn
}

# --- EC2 instance profile = Spark job role ---------------------------------------

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ec2" {
  name               = "${var.name}-emr-ec2"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
  tags               = var.tags
}

resource "aws_iam_instance_profile" "ec2" {
  name = "${var.name}-emr-ec2"
  role = aws_iam_role.ec2.name
  tags = var.tags
}

locals {
  lake_arn      = "arn:${local.partition}:s3:::${var.lake_bucket}"
  artifacts_arn = "arn:${local.partition}:s3:::${var.artifacts_bucket}"
  logs_arn      = "arn:${local.partition}:s3:::${var.logs_bucket}"
}

data "aws_iam_policy_document" "ec2" {
  statement {
    sid       = "ListLakePrefixes"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.lake_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = flatten([for p in var.lake_rw_prefixes : [p, "${p}*"]])
    }
  }

  statement {
    sid       = "ReadWriteLakeTables"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = [for p in var.lake_rw_prefixes : "${local.lake_arn}/${p}*"]
  }

  statement {
    sid       = "ListArtifactPrefixes"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.artifacts_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = flatten([for p in concat(var.artifacts_read_prefixes, var.artifacts_write_prefixes) : [p, "${p}*"]])
    }
  }

  statement {
    sid       = "ReadArtifacts"
    actions   = ["s3:GetObject"]
    resources = [for p in concat(var.artifacts_read_prefixes, var.artifacts_write_prefixes) : "${local.artifacts_arn}/${p}*"]
  }

  statement {
    sid       = "WriteArtifacts"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload"]
    resources = [for p in var.artifacts_write_prefixes : "${local.artifacts_arn}/${p}*"]
  }

  statement {
    sid       = "WriteEmrLogs"
    actions   = ["s3:PutObject"]
    resources = ["${local.logs_arn}/emr/*"]
  }

  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "ReadRedisSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [var.redis_secret_arn]
  }

  statement {
    sid = "GlueCatalogForLakeTables"
    actions = [
      "glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:UpdateTable",
      "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition",
      "glue:CreatePartition", "glue:BatchCreatePartition", "glue:UpdatePartition",
      "glue:DeletePartition", "glue:BatchDeletePartition",
    ]
    resources = [
      "arn:${local.partition}:glue:${data.aws_region.current.name}:${local.account_id}:catalog",
      "arn:${local.partition}:glue:${data.aws_region.current.name}:${local.account_id}:database/${var.glue_database_name}",
      "arn:${local.partition}:glue:${data.aws_region.current.name}:${local.account_id}:table/${var.glue_database_name}/*",
    ]
  }
}

resource "aws_iam_policy" "ec2" {
  name   = "${var.name}-emr-ec2"
  policy = data.aws_iam_policy_document.ec2.json
  tags   = var.tags
}

resource "aws_iam_role_policy_attachment" "ec2" {
  role       = aws_iam_role.ec2.name
  policy_arn = aws_iam_policy.ec2.arn
}
