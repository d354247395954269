variable "environment" {
  description = "Environment name (dev or prod); used in every resource name."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.environment)
    error_message = "environment must be dev or prod."
  }
}

variable "region" {
  description = "AWS region to deploy into."
  type        = string
}

variable "tags" {
  description = "Extra tags applied to every resource (provider default_tags)."
  type        = map(string)
  default     = {}
}

# --- network -------------------------------------------------------------------

variable "create_vpc" {
  description = "Create the VPC; false uses existing_vpc_id / existing_private_subnet_ids."
  type        = bool
  default     = true
}

variable "vpc_cidr" {
  description = "CIDR of the VPC when create_vpc = true."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "AZ names for the private subnets when create_vpc = true (at least 2), e.g. [\"eu-west-1a\", \"eu-west-1b\"]."
  type        = list(string)
  default     = []
}

variable "enable_nat_gateway" {
  description = "Create a NAT gateway for outbound internet (PyPI) when create_vpc = true."
  type        = bool
  default     = true
}

variable "existing_vpc_id" {
  description = "Existing VPC id (create_vpc = false); it must have an S3 gateway endpoint and flow logs."
  type        = string
  default     = null

  validation {
    condition     = var.create_vpc || var.existing_vpc_id != null
    error_message = "With create_vpc = false set existing_vpc_id."
  }
}

variable "existing_private_subnet_ids" {
  description = "Existing private subnet ids, at least two in different AZs (create_vpc = false)."
  type        = list(string)
  default     = []

  validation {
    condition     = var.create_vpc || length(var.existing_private_subnet_ids) >= 2
    error_message = "With create_vpc = false give at least two existing_private_subnet_ids."
  }
}

# --- storage -------------------------------------------------------------------

variable "force_destroy_buckets" {
  description = "Allow destroying non-empty buckets (dev only)."
  type        = bool
  default     = false
}

variable "lake_noncurrent_version_days" {
  description = "Days to keep noncurrent (VACUUMed/overwritten) Delta file versions."
  type        = number
  default     = 30
}

variable "artifacts_noncurrent_version_days" {
  description = "Days to keep noncurrent artifact versions."
  type        = number
  default     = 90
}

variable "log_retention_days" {
  description = "Days to keep EMR/flow/access logs."
  type        = number
  default     = 90
}

# --- EMR -----------------------------------------------------------------------

variable "emr_release_label" {
  description = "EMR release label (emr-7.x ships Spark 3.5)."
  type        = string
  default     = "emr-7.5.0"
}

variable "emr_primary_instance_type" {
  description = "EMR primary node instance type; its architecture must be emr_env_archive_arch (x86_64: m6i, not Graviton m6g)."
  type        = string
  default     = "m6i.xlarge"
}

variable "emr_core_instance_type" {
  description = "EMR core node instance type; its architecture must be emr_env_archive_arch."
  type        = string
  default     = "r6i.xlarge"
}

variable "emr_core_instance_count" {
  description = "Number of EMR core nodes."
  type        = number
  default     = 2
}

variable "emr_idle_timeout_seconds" {
  description = "EMR auto-termination idle timeout in seconds."
  type        = number
  default     = 3600
}

variable "emr_step_concurrency_level" {
  description = "Number of concurrently running EMR steps."
  type        = number
  default     = 1
}

variable "emr_termination_protection" {
  description = "Termination protection on the EMR cluster."
  type        = bool
  default     = false
}

variable "emr_env_archive_arch" {
  description = "Architecture of the ranklake env archive's native wheels (x86_64 when built by make package on x86_64; aarch64 for Graviton instance types)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "aarch64"], var.emr_env_archive_arch)
    error_message = "emr_env_archive_arch must be x86_64 or aarch64."
  }
}

variable "emr_bootstrap_actions" {
  description = "Extra EMR bootstrap actions (scripts under s3://<artifacts>/bootstrap/), after the built-in Python 3.11 install."
  type = list(object({
    name = string
    path = string
    args = list(string)
  }))
  default = []
}

variable "emr_tls_certificates_s3_object" {
  description = "S3 URI of the PEM zip for EMR in-transit encryption; null = s3://<artifacts>/emr/tls/certs.zip."
  type        = string
  default     = null
}

# --- Redis ---------------------------------------------------------------------

variable "redis_engine" {
  description = "ElastiCache engine: redis or valkey."
  type        = string
  default     = "redis"
}

variable "redis_engine_version" {
  description = "ElastiCache engine version."
  type        = string
  default     = "7.1"
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "redis_num_cache_clusters" {
  description = "Number of cache nodes (primary + replicas, at least 2: Multi-AZ with automatic failover)."
  type        = number
  default     = 2
}

variable "lookup_service_security_group_ids" {
  description = "Existing lookup service security groups admitted to Redis (in addition to the created lookup SG)."
  type        = list(string)
  default     = []
}

# --- MWAA / Glue ------------------------------------------------------------------

variable "airflow_version" {
  description = "MWAA Airflow version: 3.0.6 where available in the region, else the latest 2.x (e.g. 2.10.3)."
  type        = string
  default     = "3.0.6"
}

variable "mwaa_environment_class" {
  description = "MWAA environment class."
  type        = string
  default     = "mw1.small"
}

variable "mwaa_max_workers" {
  description = "Maximum MWAA workers."
  type        = number
  default     = 2
}

variable "glue_database_name" {
  description = "Glue database name; null = ranklake_<environment>."
  type        = string
  default     = null
}
