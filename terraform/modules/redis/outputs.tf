output "primary_endpoint_address" {
  description = "Primary endpoint of the replication group."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "reader_endpoint_address" {
  description = "Reader endpoint of the replication group."
  value       = aws_elasticache_replication_group.this.reader_endpoint_address
}

output "port" {
  description = "Cache port."
  value       = var.port
}

output "auth_secret_arn" {
  description = "ARN of the Secrets Manager secret (JSON: auth_token, host, port, url)."
  value       = aws_secretsmanager_secret.auth.arn
}

output "security_group_id" {
  description = "Security group of the cache."
  value       = aws_security_group.redis.id
}

output "lookup_security_group_id" {
  description = "Security group to attach to the lookup service."
  value       = aws_security_group.lookup.id
}
