variable "name" {
  description = "Name prefix, e.g. ranklake-dev."
  type        = string
}

variable "release_label" {
  description = "EMR release label; must ship Spark 3.5 (emr-7.x)."
  type        = string
  default     = "emr-7.5.0"

  validation {
    condition     = can(regex("^emr-7\\.", var.release_label))
    error_message = "release_label must be an emr-7.x release (Spark 3.5)."
  }
}

variable "vpc_id" {
  description = "VPC the cluster runs in."
  type        = string
}

variable "subnet_id" {
  description = "Private subnet the cluster runs in."
  type        = string
}

variable "primary_instance_type" {
  description = "Instance type of the primary node (architecture = env_archive_arch: x86_64 -> m6i, not Graviton m6g)."
  type        = string
  default     = "m6i.xlarge"
}

variable "core_instance_type" {
  description = "Instance type of the core nodes (architecture = env_archive_arch)."
  type        = string
  default     = "r6i.xlarge"
}

variable "core_instance_count" {
  description = "Number of core nodes."
  type        = number
  default     = 2
}

variable "ebs_volume_size" {
  description = "Size in GiB of the gp3 data volume per node."
  type        = number
  default     = 128
}

variable "ebs_root_volume_size" {
  description = "Size in GiB of the root EBS volume per node."
  type        = number
  default     = 32
}

variable "idle_timeout_seconds" {
  description = "Auto-termination idle timeout in seconds (60-604800)."
  type        = number
  default     = 3600

  validation {
    condition     = var.idle_timeout_seconds >= 60 && var.idle_timeout_seconds <= 604800
    error_message = "idle_timeout_seconds must be between 60 and 604800."
  }
}

variable "step_concurrency_level" {
  description = "Number of EMR steps that may run concurrently."
  type        = number
  default     = 1
}

variable "termination_protection" {
  description = "Enable termination protection on the cluster."
  type        = bool
  default     = false
}

variable "env_archive_arch" {
  description = "CPU architecture of the native wheels in the ranklake env archive (the machine that ran make package); the Python bootstrap fails on nodes of another architecture."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "aarch64"], var.env_archive_arch)
    error_message = "env_archive_arch must be x86_64 or aarch64."
  }
}

variable "bootstrap_actions" {
  description = "Extra bootstrap actions (scripts in the artifacts bucket under bootstrap/), run after the built-in install-python3.11."
  type = list(object({
    name = string
    path = string
    args = list(string)
  }))
  default = []
}

variable "tls_certificates_s3_object" {
  description = "S3 URI of the PEM certificate zip used for EMR in-transit encryption, e.g. s3://<artifacts>/emr/tls/certs.zip."
  type        = string
}

variable "kms_key_arn" {
  description = "CMK used for S3 SSE-KMS, local disk/EBS encryption and log encryption."
  type        = string
}

variable "lake_bucket" {
  description = "Name of the lake bucket."
  type        = string
}

variable "artifacts_bucket" {
  description = "Name of the artifacts bucket."
  type        = string
}

variable "logs_bucket" {
  description = "Name of the logs bucket (EMR logs go to emr/)."
  type        = string
}

variable "lake_rw_prefixes" {
  description = "Lake bucket prefixes the Spark jobs may read and write (trailing slash)."
  type        = list(string)
  default     = ["tables/", "checkpoints/", "tmp/"]
}

variable "artifacts_read_prefixes" {
  description = "Artifacts bucket prefixes the Spark jobs may read (code, env archives, bootstrap, TLS certs)."
  type        = list(string)
  default     = ["wheels/", "envs/", "jobs/", "conf/", "bootstrap/", "emr/"]
}

variable "artifacts_write_prefixes" {
  description = "Artifacts bucket prefixes the Spark jobs may write (and read): models, reports, run records."
  type        = list(string)
  default     = ["models/", "reports/", "runs/"]
}

variable "redis_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the Redis auth token/URL."
  type        = string
}

variable "glue_database_name" {
  description = "Glue database holding the Delta tables the jobs maintain."
  type        = string
}

variable "tags" {
  description = "Tags applied to EMR resources."
  type        = map(string)
  default     = {}
}
