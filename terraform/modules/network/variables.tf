variable "name" {
  description = "Name prefix, e.g. ranklake-dev."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 CIDR of the VPC (a /16-/20; private subnets are /4 splits of it)."
  type        = string
}

variable "availability_zones" {
  description = "Availability zone names, one private subnet each (MWAA needs at least 2)."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2 && length(var.availability_zones) <= 6
    error_message = "Give between 2 and 6 availability zones."
  }
}

variable "enable_nat_gateway" {
  description = "Create one NAT gateway for outbound internet (PyPI for MWAA requirements). Without it all traffic stays on VPC endpoints."
  type        = bool
  default     = true
}

variable "interface_endpoint_services" {
  description = "AWS services reached through interface VPC endpoints (short names, e.g. sts, kms)."
  type        = list(string)
  default = [
    "sts", "kms", "logs", "monitoring", "sqs", "secretsmanager", "elasticmapreduce",
    "glue", "ecr.api", "ecr.dkr", "airflow.api", "airflow.env", "airflow.ops",
  ]
}

variable "flow_logs_bucket_arn" {
  description = "ARN of the (SSE-KMS) logs bucket receiving VPC flow logs under vpc-flow-logs/."
  type        = string
}

variable "tags" {
  description = "Tags applied to network resources."
  type        = map(string)
  default     = {}
}
