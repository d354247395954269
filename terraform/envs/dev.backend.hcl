# terraform init -reconfigure -backend-config=envs/dev.backend.hcl
bucket       = "ranklake-tfstate-dev-123456789012"
key          = "ranklake/dev/terraform.tfstate"
region       = "eu-west-1"
encrypt      = true
use_lockfile = true
