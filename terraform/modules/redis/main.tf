# ElastiCache (Redis OSS or Valkey) replication group serving top-K lists to
# the lookup service. Private subnets, TLS required, at-rest encryption with
# the CMK, AUTH token generated here and stored only in Secrets Manager.

resource "aws_elasticache_subnet_group" "this" {
  name        = "${var.name}-topk"
  description = "Private subnets for the ranklake top-K cache"
  subnet_ids  = var.subnet_ids
  tags        = var.tags
}

# --- security groups ---------------------------------------------------------------

resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "ranklake top-K cache: admits only the lookup service and EMR nodes"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-redis" })
}

# Attach this SG to the lookup service (ECS/EKS/EC2) to reach the cache.
resource "aws_security_group" "lookup" {
  #checkov:skip=CKV2_AWS_5:Attached by the lookup service's own deployment (output lookup_service_security_group_id), which lives outside this stack
  name        = "${var.name}-lookup-service"
  description = "Attach to the lookup service; allows it to reach the top-K cache"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-lookup-service" })
}

locals {
  client_security_groups = merge(
    { lookup = aws_security_group.lookup.id },
    var.emr_security_group_ids,
    { for i, id in var.extra_lookup_security_group_ids : "lookup-extra-${i}" => id },
  )
}

resource "aws_vpc_security_group_ingress_rule" "redis_clients" {
  for_each                     = local.client_security_groups
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis TLS from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_egress_rule" "lookup_to_redis" {
  security_group_id            = aws_security_group.lookup.id
  description                  = "Lookup service to the top-K cache"
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
  referenced_security_group_id = aws_security_group.redis.id
}

# --- auth token ----------------------------------------------------------------------

# Alphanumeric only so the token can be embedded in a rediss:// URL unescaped.
resource "random_password" "auth" {
  length  = 64
  special = false
}

resource "aws_secretsmanager_secret" "auth" {
  #checkov:skip=CKV2_AWS_57:ElastiCache AUTH rotation needs a coordinated ROTATE/SET on the replication group; rotated via terraform (taint random_password) rather than a Lambda
  name                    = "${var.name}/redis/auth"
  description             = "AUTH token and rediss:// URL (REDIS_URL) of the ranklake top-K cache"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_in_days
  tags                    = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id       = "${var.name}-topk"
  description                = "ranklake top-K lists for the lookup service"
  engine                     = var.engine
  engine_version             = var.engine_version
  node_type                  = var.node_type
  num_cache_clusters         = var.num_cache_clusters
  automatic_failover_enabled = true
  multi_az_enabled           = true
  port                       = var.port
  parameter_group_name       = var.parameter_group_name
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.redis.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  auth_token                 = random_password.auth.result
  auth_token_update_strategy = "ROTATE"

  snapshot_retention_limit   = var.snapshot_retention_limit
  auto_minor_version_upgrade = true
  apply_immediately          = var.apply_immediately
  tags                       = var.tags
}

resource "aws_secretsmanager_secret_version" "auth" {
  secret_id = aws_secretsmanager_secret.auth.id
  secret_string = jsonencode({
    auth_token = random_password.auth.result
    host       = aws_elasticache_replication_group.this.primary_endpoint_address
    port       = var.port
    url        = "rediss://:${random_password.auth.result}@${aws_elasticache_replication_group.this.primary_endpoint_address}:${var.port}/0"
  })
}
