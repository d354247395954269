output "environment_arn" {
  description = "ARN of the MWAA environment."
  value       = aws_mwaa_environment.this.arn
}

output "webserver_url" {
  description = "Private webserver URL of the MWAA environment."
  value       = aws_mwaa_environment.this.webserver_url
}

output "execution_role_arn" {
  description = "ARN of the MWAA execution role."
  value       = aws_iam_role.execution.arn
}

output "security_group_id" {
  description = "Security group of the MWAA environment."
  value       = aws_security_group.this.id
}
