# Lake (Delta tables), artifacts (models, wheels, env archives, reports, MWAA
# DAGs) and logs (EMR + VPC flow logs) buckets, all SSE-KMS with the CMK.
# A fourth bucket receives S3 server access logs: AWS only supports SSE-S3
# default encryption on access-log target buckets.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id

  kms_buckets = {
    lake      = "${var.name}-lake-${local.account_id}"
    artifacts = "${var.name}-artifacts-${local.account_id}"
    logs      = "${var.name}-logs-${local.account_id}"
  }
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Single-region platform by design; Delta tables are re-derivable and artifacts are rebuilt by CI, cross-region replication is out of scope
  for_each      = local.kms_buckets
  bucket        = each.value
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { purpose = each.key })
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each                = aws_s3_bucket.this
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "this" {
  for_each      = aws_s3_bucket.this
  bucket        = each.value.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "${each.key}/"
}

resource "aws_s3_bucket_notification" "this" {
  for_each    = aws_s3_bucket.this
  bucket      = each.value.id
  eventbridge = true
}

# --- lifecycle -------------------------------------------------------------
# lake: Delta VACUUM deletes files, versioning keeps them as noncurrent
# versions which expire after var.lake_noncurrent_version_days.

locals {
  lifecycle = {
    lake = {
      expire_days     = null
      noncurrent_days = var.lake_noncurrent_version_days
      scratch_prefix  = "tmp/"
      scratch_days    = 7
    }
    artifacts = {
      expire_days     = null
      noncurrent_days = var.artifacts_noncurrent_version_days
      scratch_prefix  = "athena-results/"
      scratch_days    = 30
    }
    logs = {
      expire_days     = var.log_retention_days
      noncurrent_days = 7
      scratch_prefix  = "tmp/"
      scratch_days    = 7
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = local.lifecycle[each.key].noncurrent_days
    }
    expiration {
      days                         = local.lifecycle[each.key].expire_days
      expired_object_delete_marker = local.lifecycle[each.key].expire_days == null ? true : null
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  rule {
    id     = "expire-scratch"
    status = "Enabled"
    filter {
      prefix = local.lifecycle[each.key].scratch_prefix
    }
    expiration {
      days = local.lifecycle[each.key].scratch_days
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

# --- bucket policies (TLS only) -------------------------------------------

data "aws_iam_policy_document" "tls_only" {
  for_each = aws_s3_bucket.this

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  statement {
    sid       = "DenyOutdatedTls"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }

  # VPC flow logs are delivered to logs/vpc-flow-logs/ only.
  dynamic "statement" {
    for_each = each.key == "logs" ? [1] : []
    content {
      sid       = "AWSLogDeliveryWrite"
      effect    = "Allow"
      actions   = ["s3:PutObject"]
      resources = ["${each.value.arn}/vpc-flow-logs/AWSLogs/${local.account_id}/*"]
      principals {
        type        = "Service"
        identifiers = ["delivery.logs.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }

  dynamic "statement" {
    for_each = each.key == "logs" ? [1] : []
    content {
      sid       = "AWSLogDeliveryAclCheck"
      effect    = "Allow"
      actions   = ["s3:GetBucketAcl", "s3:ListBucket"]
      resources = [each.value.arn]
      principals {
        type        = "Service"
        identifiers = ["delivery.logs.amazonaws.com"]
      }
      condition {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [local.account_id]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = aws_s3_bucket.this
  bucket   = each.value.id
  policy   = data.aws_iam_policy_document.tls_only[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}
