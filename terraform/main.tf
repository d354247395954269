# Single root module; one state per environment selected with
# -backend-config=envs/<env>.backend.hcl and -var-file=envs/<env>.tfvars.

locals {
  name = "ranklake-${var.environment}"

  vpc_id             = var.create_vpc ? module.network[0].vpc_id : var.existing_vpc_id
  private_subnet_ids = var.create_vpc ? module.network[0].private_subnet_ids : var.existing_private_subnet_ids

  glue_database_name = coalesce(var.glue_database_name, "ranklake_${var.environment}")
  tls_certs_object   = coalesce(var.emr_tls_certificates_s3_object, "s3://${module.storage.artifacts_bucket}/emr/tls/certs.zip")
}

module "kms" {
  source = "./modules/kms"
  name   = local.name
}

module "storage" {
  source                            = "./modules/storage"
  name                              = local.name
  kms_key_arn                       = module.kms.key_arn
  force_destroy                     = var.force_destroy_buckets
  lake_noncurrent_version_days      = var.lake_noncurrent_version_days
  artifacts_noncurrent_version_days = var.artifacts_noncurrent_version_days
  log_retention_days                = var.log_retention_days
}

module "network" {
  count                = var.create_vpc ? 1 : 0
  source               = "./modules/network"
  name                 = local.name
  cidr_block           = var.vpc_cidr
  availability_zones   = var.availability_zones
  enable_nat_gateway   = var.enable_nat_gateway
  flow_logs_bucket_arn = module.storage.logs_bucket_arn
}

module "glue" {
  source           = "./modules/glue"
  name             = local.name
  database_name    = local.glue_database_name
  lake_bucket      = module.storage.lake_bucket
  artifacts_bucket = module.storage.artifacts_bucket
  kms_key_arn      = module.kms.key_arn
}

module "emr" {
  source                     = "./modules/emr"
  name                       = local.name
  release_label              = var.emr_release_label
  vpc_id                     = local.vpc_id
  subnet_id                  = local.private_subnet_ids[0]
  primary_instance_type      = var.emr_primary_instance_type
  core_instance_type         = var.emr_core_instance_type
  core_instance_count        = var.emr_core_instance_count
  idle_timeout_seconds       = var.emr_idle_timeout_seconds
  step_concurrency_level     = var.emr_step_concurrency_level
  termination_protection     = var.emr_termination_protection
  bootstrap_actions          = var.emr_bootstrap_actions
  env_archive_arch           = var.emr_env_archive_arch
  tls_certificates_s3_object = local.tls_certs_object
  kms_key_arn                = module.kms.key_arn
  lake_bucket                = module.storage.lake_bucket
  artifacts_bucket           = module.storage.artifacts_bucket
  logs_bucket                = module.storage.logs_bucket
  redis_secret_arn           = module.redis.auth_secret_arn
  glue_database_name         = module.glue.database_name
}

module "redis" {
  source                          = "./modules/redis"
  name                            = local.name
  vpc_id                          = local.vpc_id
  subnet_ids                      = local.private_subnet_ids
  engine                          = var.redis_engine
  engine_version                  = var.redis_engine_version
  node_type                       = var.redis_node_type
  num_cache_clusters              = var.redis_num_cache_clusters
  kms_key_arn                     = module.kms.key_arn
  extra_lookup_security_group_ids = var.lookup_service_security_group_ids
  emr_security_group_ids = {
    emr-primary = module.emr.primary_security_group_id
    emr-core    = module.emr.core_security_group_id
  }
}

module "mwaa" {
  source               = "./modules/mwaa"
  name                 = local.name
  airflow_version      = var.airflow_version
  environment_class    = var.mwaa_environment_class
  max_workers          = var.mwaa_max_workers
  vpc_id               = local.vpc_id
  subnet_ids           = local.private_subnet_ids
  artifacts_bucket_arn = module.storage.artifacts_bucket_arn
  emr_cluster_arn      = module.emr.cluster_arn
  kms_key_arn          = module.kms.key_arn
}
