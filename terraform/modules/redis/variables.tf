variable "name" {
  description = "Name prefix, e.g. ranklake-dev."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the cache."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the cache subnet group."
  type        = list(string)
}

variable "engine" {
  description = "Cache engine: redis or valkey."
  type        = string
  default     = "redis"

  validation {
    condition     = contains(["redis", "valkey"], var.engine)
    error_message = "engine must be redis or valkey."
  }
}

variable "engine_version" {
  description = "Engine version, e.g. 7.1 (redis) or 8.0 (valkey)."
  type        = string
  default     = "7.1"
}

variable "parameter_group_name" {
  description = "Parameter group name; null uses the engine default (e.g. default.redis7)."
  type        = string
  default     = null
}

variable "node_type" {
  description = "Cache node type."
  type        = string
  default     = "cache.t4g.small"
}

variable "num_cache_clusters" {
  description = "Number of nodes (1 primary + replicas); at least 2 for Multi-AZ automatic failover."
  type        = number
  default     = 2

  validation {
    condition     = var.num_cache_clusters >= 2
    error_message = "num_cache_clusters must be >= 2 (automatic failover is always on)."
  }
}

variable "port" {
  description = "Cache port."
  type        = number
  default     = 6379
}

variable "snapshot_retention_limit" {
  description = "Days of automatic snapshots to keep (0 disables)."
  type        = number
  default     = 3
}

variable "apply_immediately" {
  description = "Apply modifications immediately instead of in the maintenance window."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "CMK for at-rest encryption and the auth secret."
  type        = string
}

variable "secret_recovery_window_in_days" {
  description = "Recovery window of the auth secret (0 forces immediate deletion)."
  type        = number
  default     = 7
}

variable "emr_security_group_ids" {
  description = "Map name => EMR security group id allowed to write to the cache (static keys)."
  type        = map(string)
  default     = {}
}

variable "extra_lookup_security_group_ids" {
  description = "Existing security groups of the lookup service allowed to read the cache."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags applied to cache resources."
  type        = map(string)
  default     = {}
}
