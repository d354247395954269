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
