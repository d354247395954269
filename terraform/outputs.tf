output "lake_bucket" {
  description = "Lake bucket; conf/emr.yaml lake.root = s3://<lake_bucket>/."
  value       = module.storage.lake_bucket
}

output "artifacts_bucket" {
  description = "Artifacts bucket; conf/emr.yaml artifacts.root = s3://<artifacts_bucket>/."
  value       = module.storage.artifacts_bucket
}

output "logs_bucket" {
  description = "Logs bucket (EMR logs under emr/, VPC flow logs under vpc-flow-logs/)."
  value       = module.storage.logs_bucket
}

output "kms_key_arn" {
  description = "Customer-managed KMS key ARN."
  value       = module.kms.key_arn
}

output "emr_cluster_id" {
  description = "EMR cluster id; conf/emr.yaml emr.cluster_id."
  value       = module.emr.cluster_id
}

output "emr_python_bootstrap_s3_uri" {
  description = "Bootstrap action installing /usr/bin/python3.11 on every EMR node (the env archive's interpreter)."
  value       = module.emr.python_bootstrap_s3_uri
}

output "emr_instance_role_arn" {
  description = "EMR EC2 instance (Spark job) role."
  value       = module.emr.instance_role_arn
}

output "redis_endpoint" {
  description = "Redis primary endpoint address (TLS, port redis_port)."
  value       = module.redis.primary_endpoint_address
}

output "redis_port" {
  description = "Redis port."
  value       = module.redis.port
}

output "redis_secret_arn" {
  description = "Secrets Manager secret (JSON auth_token/host/port/url): RANKLAKE_REDIS_SECRET_ARN -> redis.secret_arn."
  value       = module.redis.auth_secret_arn
}

output "lookup_service_security_group_id" {
  description = "Security group to attach to the lookup service."
  value       = module.redis.lookup_security_group_id
}

output "mwaa_webserver_url" {
  description = "Private MWAA webserver URL."
  value       = module.mwaa.webserver_url
}

output "mwaa_dags_s3_uri" {
  description = "Where CI uploads DAGs."
  value       = "s3://${module.storage.artifacts_bucket}/airflow/dags/"
}

output "glue_database_name" {
  description = "Glue database with topk_user/topk_query/topk_item."
  value       = module.glue.database_name
}

output "athena_workgroup" {
  description = "Athena workgroup for downstream consumers."
  value       = module.glue.athena_workgroup
}

output "consumer_policy_arn" {
  description = "Read-only IAM policy for downstream consumers."
  value       = module.glue.consumer_policy_arn
}

output "vpc_id" {
  description = "VPC id in use."
  value       = local.vpc_id
}

output "conf_emr_env" {
  description = "Environment variables read by conf/emr.yaml (the Redis secret's ARN only, never its value)."
  value = {
    RANKLAKE_LAKE_S3          = "s3://${module.storage.lake_bucket}/"
    RANKLAKE_ARTIFACTS_S3     = "s3://${module.storage.artifacts_bucket}/"
    RANKLAKE_EMR_CLUSTER_ID   = module.emr.cluster_id
    RANKLAKE_REDIS_SECRET_ARN = module.redis.auth_secret_arn
  }
}
