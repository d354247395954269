# terraform plan -var-file=envs/dev.tfvars
environment = "dev"
region      = "eu-west-1"

vpc_cidr           = "10.40.0.0/16"
availability_zones = ["eu-west-1a", "eu-west-1b"]
enable_nat_gateway = true

force_destroy_buckets        = true
lake_noncurrent_version_days = 7
log_retention_days           = 30

emr_release_label          = "emr-7.5.0"
emr_core_instance_count    = 2
emr_idle_timeout_seconds   = 3600
emr_termination_protection = false

redis_node_type          = "cache.t4g.small"
redis_num_cache_clusters = 2

airflow_version        = "3.0.6"
mwaa_environment_class = "mw1.small"
mwaa_max_workers       = 2

tags = {
  cost_center = "ranklake-dev"
}
