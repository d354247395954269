variable "name" {
  description = "MWAA environment name (also the name prefix), e.g. ranklake-dev."
  type        = string
}

variable "airflow_version" {
  description = "Airflow version. Airflow 3 (3.0.6) where MWAA offers it in the region, else the latest 2.x (2.10.3)."
  type        = string
  default     = "3.0.6"
}

variable "environment_class" {
  description = "MWAA environment class (mw1.micro, mw1.small, mw1.medium, ...)."
  type        = string
  default     = "mw1.small"
}

variable "min_workers" {
  description = "Minimum number of Celery workers."
  type        = number
  default     = 1
}

variable "max_workers" {
  description = "Maximum number of Celery workers."
  type        = number
  default     = 2
}

variable "vpc_id" {
  description = "VPC of the environment."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets; MWAA uses the first two (different AZs)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "MWAA needs two private subnets."
  }
}

variable "artifacts_bucket_arn" {
  description = "ARN of the artifacts bucket holding DAGs and requirements under airflow/."
  type        = string
}

variable "dag_s3_path" {
  description = "DAG folder inside the artifacts bucket."
  type        = string
  default     = "airflow/dags"
}

variable "requirements_s3_path" {
  description = "requirements.txt inside the artifacts bucket (must exist before apply)."
  type        = string
  default     = "airflow/requirements.txt"
}

variable "requirements_s3_object_version" {
  description = "S3 object version of requirements.txt to pin (null = latest at apply time)."
  type        = string
  default     = null
}

variable "artifacts_read_prefixes" {
  description = "Extra artifacts prefixes DAGs may read (e.g. reports/, models/)."
  type        = list(string)
  default     = ["reports/", "models/", "conf/", "runs/"]
}

variable "emr_cluster_arn" {
  description = "ARN of the EMR cluster DAGs submit steps to."
  type        = string
}

variable "kms_key_arn" {
  description = "CMK encrypting the environment and its logs."
  type        = string
}

variable "log_level" {
  description = "Log level for all MWAA log types."
  type        = string
  default     = "INFO"
}

variable "weekly_maintenance_window_start" {
  description = "Weekly maintenance window start (DAY:HH:MM, UTC)."
  type        = string
  default     = "SUN:03:00"
}

variable "airflow_configuration_options" {
  description = "Airflow configuration overrides (non-secret only)."
  type        = map(string)
  default     = {}
}

variable "tags" {
  description = "Tags applied to MWAA resources."
  type        = map(string)
  default     = {}
}
