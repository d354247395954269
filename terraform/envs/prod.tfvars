# terraform plan -var-file=envs/prod.tfvars
environment = "prod"
region      = "eu-west-1"

vpc_cidr           = "10.41.0.0/16"
availability_zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
enable_nat_gateway = true

force_destroy_buckets        = false
lake_noncurrent_version_days = 30
log_retention_days           = 365

emr_release_label          = "emr-7.5.0"
emr_core_instance_type     = "r6i.2xlarge"
emr_core_instance_count    = 4
emr_idle_timeout_seconds   = 14400
emr_step_concurrency_level = 2
emr_termination_protection = true

redis_node_type          = "cache.r7g.large"
redis_num_cache_clusters = 3

airflow_version        = "3.0.6"
mwaa_environment_class = "mw1.medium"
mwaa_max_workers       = 5

tags = {
  cost_center = "ranklake-prod"
}
