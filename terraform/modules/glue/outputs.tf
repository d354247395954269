output "database_name" {
  description = "Glue database name."
  value       = aws_glue_catalog_database.this.name
}

output "table_names" {
  description = "Registered top-K table names."
  value       = [for t in aws_glue_catalog_table.topk : t.name]
}

output "athena_workgroup" {
  description = "Athena workgroup for consumers."
  value       = aws_athena_workgroup.consumers.name
}

output "consumer_policy_arn" {
  description = "ARN of the read-only consumer IAM policy."
  value       = aws_iam_policy.consumer.arn
}
