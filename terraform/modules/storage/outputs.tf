output "lake_bucket" {
  description = "Name of the lake bucket (Delta tables)."
  value       = aws_s3_bucket.this["lake"].id
}

output "lake_bucket_arn" {
  description = "ARN of the lake bucket."
  value       = aws_s3_bucket.this["lake"].arn
}

output "artifacts_bucket" {
  description = "Name of the artifacts bucket (models, wheels, env archives, reports, MWAA DAGs)."
  value       = aws_s3_bucket.this["artifacts"].id
}

output "artifacts_bucket_arn" {
  description = "ARN of the artifacts bucket."
  value       = aws_s3_bucket.this["artifacts"].arn
}

output "logs_bucket" {
  description = "Name of the logs bucket (EMR logs, VPC flow logs)."
  value       = aws_s3_bucket.this["logs"].id
}

output "logs_bucket_arn" {
  description = "ARN of the logs bucket."
  value       = aws_s3_bucket.this["logs"].arn
}

output "access_logs_bucket" {
  description = "Name of the S3 server access log bucket."
  value       = aws_s3_bucket.access_logs.id
}
