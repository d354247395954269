output "cluster_id" {
  description = "EMR cluster (job flow) id, feeds emr.cluster_id."
  value       = aws_emr_cluster.this.id
}

output "cluster_arn" {
  description = "EMR cluster ARN."
  value       = aws_emr_cluster.this.arn
}

output "primary_security_group_id" {
  description = "EMR-managed primary node security group."
  value       = aws_security_group.primary.id
}

output "core_security_group_id" {
  description = "EMR-managed core node security group."
  value       = aws_security_group.core.id
}

output "instance_role_arn" {
  description = "ARN of the EC2 instance (Spark job) role."
  value       = aws_iam_role.ec2.arn
}

output "service_role_arn" {
  description = "ARN of the EMR service role."
  value       = aws_iam_role.service.arn
}

output "python_bootstrap_s3_uri" {
  description = "S3 URI of the bootstrap action that installs /usr/bin/python3.11 (the env archive's interpreter)."
  value       = "s3://${var.artifacts_bucket}/${aws_s3_object.bootstrap_python311.key}"
}
