variable "name" {
  description = "Name prefix, e.g. ranklake-dev. Bucket names are <name>-<purpose>-<account_id>."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the customer-managed KMS key used for SSE-KMS on the lake, artifacts and logs buckets."
  type        = string
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete non-empty buckets (dev only)."
  type        = bool
  default     = false
}

variable "lake_noncurrent_version_days" {
  description = "Days after which noncurrent (VACUUMed/overwritten) Delta file versions in the lake bucket are expired."
  type        = number
  default     = 30
}

variable "artifacts_noncurrent_version_days" {
  description = "Days after which noncurrent artifact versions (models, wheels, env archives, reports) are expired."
  type        = number
  default     = 90
}

variable "log_retention_days" {
  description = "Days after which objects in the logs and access-logs buckets are expired."
  type        = number
  default     = 90
}

variable "tags" {
  description = "Tags applied to all buckets."
  type        = map(string)
  default     = {}
}
