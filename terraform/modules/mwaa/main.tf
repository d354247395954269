# MWAA environment: DAGs and requirements from the artifacts bucket under
# airflow/, private webserver, private subnets, all logs to CloudWatch
# (encrypted with the CMK), least-privilege execution role.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
}

resource "aws_security_group" "this" {
  name        = "${var.name}-mwaa"
  description = "MWAA workers/scheduler/webserver (self-referencing as required by MWAA)"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-mwaa" })
}

resource "aws_vpc_security_group_ingress_rule" "self" {
  security_group_id            = aws_security_group.this.id
  description                  = "MWAA components talk to each other"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.this.id
}

resource "aws_vpc_security_group_egress_rule" "self" {
  security_group_id            = aws_security_group.this.id
  description                  = "MWAA components and service-managed endpoints"
  ip_protocol                  = "-1"
  referenced_security_group_id = aws_security_group.this.id
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.this.id
  description       = "HTTPS to VPC endpoints / NAT (AWS APIs, PyPI)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_mwaa_environment" "this" {
  name                            = var.name
  airflow_version                 = var.airflow_version
  environment_class               = var.environment_class
  min_workers                     = var.min_workers
  max_workers                     = var.max_workers
  execution_role_arn              = aws_iam_role.execution.arn
  kms_key                         = var.kms_key_arn
  source_bucket_arn               = var.artifacts_bucket_arn
  dag_s3_path                     = var.dag_s3_path
  requirements_s3_path            = var.requirements_s3_path
  requirements_s3_object_version  = var.requirements_s3_object_version
  webserver_access_mode           = "PRIVATE_ONLY"
  weekly_maintenance_window_start = var.weekly_maintenance_window_start
  airflow_configuration_options   = var.airflow_configuration_options

  network_configuration {
    security_group_ids = [aws_security_group.this.id]
    subnet_ids         = slice(var.subnet_ids, 0, 2)
  }

  logging_configuration {
    dag_processing_logs {
      enabled   = true
      log_level = var.log_level
    }
    scheduler_logs {
      enabled   = true
      log_level = var.log_level
    }
    task_logs {
      enabled   = true
      log_level = var.log_level
    }
    webserver_logs {
      enabled   = true
      log_level = var.log_level
    }
    worker_logs {
      enabled   = true
      log_level = var.log_level
    }
  }

  tags = var.tags
}
