variable "name" {
  description = "Name prefix, e.g. ranklake-dev."
  type        = string
}

variable "database_name" {
  description = "Glue database name (letters, digits, underscores)."
  type        = string
}

variable "table_names" {
  description = "Top-K Delta tables registered in the catalog (location s3://<lake>/tables/<name>)."
  type        = list(string)
  default     = ["topk_user", "topk_query", "topk_item"]
}

variable "lake_bucket" {
  description = "Name of the lake bucket."
  type        = string
}

variable "artifacts_bucket" {
  description = "Name of the artifacts bucket (Athena results under athena-results/)."
  type        = string
}

variable "kms_key_arn" {
  description = "CMK encrypting lake objects and Athena results."
  type        = string
}

variable "tags" {
  description = "Tags applied to catalog resources."
  type        = map(string)
  default     = {}
}
