variable "name" {
  description = "Name prefix, e.g. ranklake-dev."
  type        = string
}

variable "rotation_period_in_days" {
  description = "Automatic key rotation period in days (90-2560)."
  type        = number
  default     = 365
}

variable "deletion_window_in_days" {
  description = "Waiting period before the key is deleted (7-30 days)."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags applied to the key."
  type        = map(string)
  default     = {}
}
