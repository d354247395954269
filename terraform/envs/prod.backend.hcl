# terraform init -reconfigure -backend-config=envs/prod.backend.hcl
bucket       = "ranklake-tfstate-prod-210987654321"
key          = "ranklake/prod/terraform.tfstate"
region       = "eu-west-1"
encrypt      = true
use_lockfile = true
