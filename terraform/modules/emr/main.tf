# Long-running EMR (release 7.x, Spark 3.5) cluster that receives spark-submit
# steps from Airflow. Instance groups, auto-termination on idle, security
# configuration with at-rest (S3 SSE-KMS, local disk + EBS) and in-transit
# (TLS, PEM certificates) encryption, IMDSv2.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  # EMR managed policy v2 only acts on resources carrying this tag.
  emr_tags = merge(var.tags, { "for-use-with-amazon-emr-managed-policies" = "true" })

  # Python 3.11 first (the ranklake env archive links /usr/bin/python3.11), then any extra ones.
  python_bootstrap = {
    name = "install-python3.11"
    path = "s3://${var.artifacts_bucket}/${aws_s3_object.bootstrap_python311.key}"
    args = [var.env_archive_arch]
  }
  bootstrap_actions = concat([local.python_bootstrap], var.bootstrap_actions)
}

# --- bootstrap: Python 3.11 on every node --------------------------------------
# EMR 7.x = Amazon Linux 2023 with Python 3.9; the jobs need 3.11. The venv-pack env archive
# (make package) does not carry an interpreter, only a bin/python3.11 -> /usr/bin/python3.11
# symlink, so every node installs AL2023's python3.11 package before Spark starts.
# Bootstrap actions are ForceNew: adding this one replaces the cluster (new cluster id). A new
# script content only replaces the S3 object: nodes launched later (and new clusters) run it.

resource "aws_s3_object" "bootstrap_python311" {
  bucket                 = var.artifacts_bucket
  key                    = "bootstrap/python311.sh"
  source                 = "${path.module}/bootstrap/python311.sh"
  source_hash            = filemd5("${path.module}/bootstrap/python311.sh")
  content_type           = "text/x-shellscript"
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}

# --- EMR-managed security groups (EMR adds the intra-cluster rules) ----------

resource "aws_security_group" "primary" {
  name                   = "${var.name}-emr-primary"
  description            = "EMR managed security group for the primary node"
  vpc_id                 = var.vpc_id
  revoke_rules_on_delete = true
  tags                   = merge(local.emr_tags, { Name = "${var.name}-emr-primary" })
}

resource "aws_security_group" "core" {
  name                   = "${var.name}-emr-core"
  description            = "EMR managed security group for core/task nodes"
  vpc_id                 = var.vpc_id
  revoke_rules_on_delete = true
  tags                   = merge(local.emr_tags, { Name = "${var.name}-emr-core" })
}

resource "aws_security_group" "service_access" {
  name                   = "${var.name}-emr-service-access"
  description            = "EMR managed service access security group (private subnets)"
  vpc_id                 = var.vpc_id
  revoke_rules_on_delete = true
  tags                   = merge(local.emr_tags, { Name = "${var.name}-emr-service-access" })
}

# --- security configuration ----------------------------------------------------

resource "aws_emr_security_configuration" "this" {
  name = "${var.name}-emr"
  configuration = jsonencode({
    EncryptionConfiguration = {
      EnableInTransitEncryption = true
      EnableAtRestEncryption    = true
      InTransitEncryptionConfiguration = {
        TLSCertificateConfiguration = {
          CertificateProviderType = "PEM"
          S3Object                = var.tls_certificates_s3_object
        }
      }
      AtRestEncryptionConfiguration = {
        S3EncryptionConfiguration = {
          EncryptionMode = "SSE-KMS"
          AwsKmsKey      = var.kms_key_arn
        }
        LocalDiskEncryptionConfiguration = {
          EncryptionKeyProviderType = "AwsKms"
          AwsKmsKey                 = var.kms_key_arn
          EnableEbsEncryption       = true
        }
      }
    }
    InstanceMetadataServiceConfiguration = {
      MinimumInstanceMetadataServiceVersion = 2
      HttpPutResponseHopLimit               = 2
    }
  })
}

# --- cluster ---------------------------------------------------------------------

resource "aws_emr_cluster" "this" {
  name                              = "${var.name}-spark"
  release_label                     = var.release_label
  applications                      = ["Hadoop", "Spark"]
  service_role                      = aws_iam_role.service.arn
  security_configuration            = aws_emr_security_configuration.this.name
  log_uri                           = "s3://${var.logs_bucket}/emr/"
  log_encryption_kms_key_id         = var.kms_key_arn
  keep_job_flow_alive_when_no_steps = true
  termination_protection            = var.termination_protection
  step_concurrency_level            = var.step_concurrency_level
  ebs_root_volume_size              = var.ebs_root_volume_size

  ec2_attributes {
    subnet_id                         = var.subnet_id
    instance_profile                  = aws_iam_instance_profile.ec2.arn
    emr_managed_master_security_group = aws_security_group.primary.id
    emr_managed_slave_security_group  = aws_security_group.core.id
    service_access_security_group     = aws_security_group.service_access.id
  }

  master_instance_group {
    name           = "primary"
    instance_type  = var.primary_instance_type
    instance_count = 1
    ebs_config {
      size                 = var.ebs_volume_size
      type                 = "gp3"
      volumes_per_instance = 1
    }
  }

  core_instance_group {
    name           = "core"
    instance_type  = var.core_instance_type
    instance_count = var.core_instance_count
    ebs_config {
      size                 = var.ebs_volume_size
      type                 = "gp3"
      volumes_per_instance = 1
    }
  }

  auto_termination_policy {
    idle_timeout = var.idle_timeout_seconds
  }

  dynamic "bootstrap_action" {
    for_each = local.bootstrap_actions
    content {
      name = bootstrap_action.value.name
      path = bootstrap_action.value.path
      args = bootstrap_action.value.args
    }
  }

  configurations_json = jsonencode([
    {
      Classification = "delta-defaults"
      Properties     = { "delta.enabled" = "true" }
    },
    {
      Classification = "spark-defaults"
      Properties = {
        "spark.sql.extensions"            = "io.delta.sql.DeltaSparkSessionExtension"
        "spark.sql.catalog.spark_catalog" = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
      }
    },
    {
      Classification = "spark-hive-site"
      Properties = {
        "hive.metastore.client.factory.class" = "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory"
      }
    },
  ])

  tags = merge(local.emr_tags, { Name = "${var.name}-spark" })

  # Steps are submitted by Airflow, never managed by Terraform.
  lifecycle {
    ignore_changes = [step]
  }

  depends_on = [aws_iam_role_policy_attachment.service_managed]
}
