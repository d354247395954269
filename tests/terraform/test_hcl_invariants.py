"""Static invariants of terraform/ (no terraform binary needed).

Every .tf file is parsed with ``hcl2`` (python-hcl2, or the bc-python-hcl2
fork that checkov ships under the same import name); the two produce
differently shaped trees, so ``normalize`` maps both to one shape:
attribute values unwrapped, quotes stripped, block lists kept as lists.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Iterator

import hcl2
import pytest

TF_ROOT = Path(__file__).resolve().parents[2] / "terraform"
ENVS = ("dev", "prod")
TOPK_TABLES = ("topk_user", "topk_query", "topk_item")
TOPK_COLUMNS = [
    ("entity_id", "string"),
    ("items", "array<struct<rank:int,item_id:string,score:double>>"),
    ("source", "string"),
    ("model_version", "string"),
    ("generated_at", "timestamp"),
]
REQUIRED_ROOT_OUTPUTS = {
    "lake_bucket",
    "artifacts_bucket",
    "logs_bucket",
    "emr_cluster_id",
    "redis_endpoint",
    "redis_secret_arn",
    "glue_database_name",
    "consumer_policy_arn",
    "mwaa_webserver_url",
    "kms_key_arn",
}
# Buckets allowed to use SSE-S3 instead of SSE-KMS: S3 server access log
# targets (AWS does not support SSE-KMS default encryption there).
SSE_S3_ONLY_BUCKETS = {"access_logs"}

_META_KEYS = {"__is_block__", "__start_line__", "__end_line__", "__comments__", "__inline_comments__"}


# --------------------------------------------------------------------------- parsing


def _legacy_flavor() -> bool:
    """bc-python-hcl2 / python-hcl2<4 wrap every attribute value in a list."""
    return isinstance(hcl2.loads("a = 1\n").get("a"), list)


LEGACY = _legacy_flavor()


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def normalize(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in _META_KEYS:
                continue
            value = normalize(value)
            if LEGACY and isinstance(value, list) and len(value) == 1 and not isinstance(value[0], dict):
                value = value[0]
            out[_unquote(key)] = value
        return out
    if isinstance(node, list):
        return [normalize(v) for v in node]
    return _unquote(node)


def parse_text(text: str) -> dict:
    return normalize(hcl2.loads(text))


@cache
def parse_file(path: Path) -> dict:
    with path.open() as fh:
        return normalize(hcl2.load(fh))


def tf_files() -> list[Path]:
    return sorted(p for p in TF_ROOT.rglob("*.tf") if ".terraform" not in p.parts)


def module_dirs() -> list[Path]:
    return sorted({p.parent for p in tf_files()})


def rel(path: Path) -> str:
    return str(path.relative_to(TF_ROOT))


def expr(value: Any) -> Any:
    """'${var.x}' -> 'var.x' for a single interpolation; anything else unchanged."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}") and value.count("${") == 1:
        return value[2:-1]
    return value


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def as_map(value: Any) -> dict:
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        return value[0]
    return value if isinstance(value, dict) else {}


def blocks(body: dict, name: str) -> list[dict]:
    return [b for b in as_list(body.get(name)) if isinstance(b, dict)]


def block(body: dict, name: str) -> dict:
    found = blocks(body, name)
    return found[0] if found else {}


def labelled(doc: dict, kind: str) -> Iterator[tuple[str, str, dict]]:
    """Yield (type, name, body) for 'resource'/'data' blocks of a parsed doc."""
    for entry in as_list(doc.get(kind)):
        for rtype, named in entry.items():
            for name, body in named.items():
                yield rtype, name, body


def resources_in(directory: Path, kind: str = "resource") -> list[tuple[str, str, dict, Path]]:
    out = []
    for path in sorted(directory.glob("*.tf")):
        for rtype, name, body in labelled(parse_file(path), kind):
            out.append((rtype, name, body, path))
    return out


def all_resources(kind: str = "resource") -> list[tuple[str, str, dict, Path]]:
    return [r for d in module_dirs() for r in resources_in(d, kind)]


def single_blocks(path: Path, kind: str) -> dict[str, dict]:
    """variable / output blocks: name -> body."""
    out: dict[str, dict] = {}
    for entry in as_list(parse_file(path).get(kind)):
        out.update(entry)
    return out


def _refs(body: dict, rtype: str, name: str) -> bool:
    text = json.dumps([body.get("bucket"), body.get("for_each")])
    return re.search(rf"\b{re.escape(rtype)}\.{re.escape(name)}\b", text) is not None


# --------------------------------------------------------------------------- checkers
# Pure functions over parsed HCL so they can also be exercised on bad samples.


def bucket_problems(directory_resources: list[tuple[str, str, dict, Path]]) -> list[str]:
    """Every aws_s3_bucket needs SSE, a full public access block, versioning,
    a lifecycle configuration and a TLS-only bucket policy in its module."""
    problems = []
    docs = {n: b for t, n, b, _ in directory_resources if t == "aws_iam_policy_document"}

    def companions(rtype: str, bucket: str) -> list[dict]:
        return [b for t, _, b, _ in directory_resources if t == rtype and _refs(b, "aws_s3_bucket", bucket)]

    for rtype, name, _, _ in directory_resources:
        if rtype != "aws_s3_bucket":
            continue
        sse = companions("aws_s3_bucket_server_side_encryption_configuration", name)
        if not sse:
            problems.append(f"{name}: no server-side encryption configuration")
        for conf in sse:
            default = block(block(conf, "rule"), "apply_server_side_encryption_by_default")
            algo = default.get("sse_algorithm")
            if name in SSE_S3_ONLY_BUCKETS:
                if algo not in ("AES256", "aws:kms", "aws:kms:dsse"):
                    problems.append(f"{name}: unexpected sse_algorithm {algo!r}")
            elif algo not in ("aws:kms", "aws:kms:dsse") or not default.get("kms_master_key_id"):
                problems.append(f"{name}: not SSE-KMS with a customer-managed key (algo={algo!r})")

        pab = companions("aws_s3_bucket_public_access_block", name)
        flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        if not pab or any(p.get(f) is not True for p in pab for f in flags):
            problems.append(f"{name}: public access block missing or incomplete")

        versioning = companions("aws_s3_bucket_versioning", name)
        if not versioning or any(
            block(v, "versioning_configuration").get("status") != "Enabled" for v in versioning
        ):
            problems.append(f"{name}: versioning not Enabled")

        if not companions("aws_s3_bucket_lifecycle_configuration", name):
            problems.append(f"{name}: no lifecycle configuration")

        policies = companions("aws_s3_bucket_policy", name)
        tls_ok = False
        for pol in policies:
            match = re.search(r"data\.aws_iam_policy_document\.(\w+)", str(pol.get("policy")))
            doc = docs.get(match.group(1)) if match else None
            for st in blocks(doc or {}, "statement"):
                for cond in blocks(st, "condition"):
                    if (
                        st.get("effect") == "Deny"
                        and cond.get("variable") == "aws:SecureTransport"
                        and "false" in [str(v).lower() for v in as_list(cond.get("values"))]
                    ):
                        tls_ok = True
        if not tls_ok:
            problems.append(f"{name}: no bucket policy denying aws:SecureTransport=false")
    return problems


def _statements(doc_body: dict) -> list[dict]:
    sts = list(blocks(doc_body, "statement"))
    for dyn in blocks(doc_body, "dynamic"):
        for content_holder in as_list(dyn.get("statement")):
            sts.extend(blocks(as_map(content_holder), "content"))
    return sts


def wildcard_problems(doc_name: str, doc_body: dict, is_kms_key_policy: bool = False) -> list[str]:
    """Allow statements must not grant '*' (or, outside KMS key policies where
    Resource '*' means 'this key', 'service:*') on Resource '*'."""
    problems = []
    for st in _statements(doc_body):
        if st.get("effect", "Allow") != "Allow":
            continue
        actions = [str(a) for a in as_list(st.get("actions"))]
        resources = [str(r) for r in as_list(st.get("resources"))]
        if "*" in actions or "*:*" in actions:
            problems.append(f"{doc_name}/{st.get('sid', '?')}: action '*'")
        if "*" in resources and not is_kms_key_policy and any(a.endswith(":*") for a in actions):
            problems.append(f"{doc_name}/{st.get('sid', '?')}: service wildcard {actions} on '*'")
        if st.get("not_actions") or st.get("not_resources"):
            problems.append(f"{doc_name}/{st.get('sid', '?')}: NotAction/NotResource")
    return problems


# --------------------------------------------------------------------------- layout


def test_layout_has_root_modules_and_envs():
    assert (TF_ROOT / "versions.tf").is_file()
    for module in ("network", "kms", "storage", "emr", "redis", "mwaa", "glue"):
        files = {p.name for p in (TF_ROOT / "modules" / module).glob("*.tf")}
        assert {"main.tf", "variables.tf", "outputs.tf"} <= files, (module, files)


def test_every_tf_file_parses():
    files = tf_files()
    assert len(files) >= 20
    for path in files:
        assert isinstance(parse_file(path), dict), rel(path)


def test_provider_versions_pinned():
    tf = block(parse_file(TF_ROOT / "versions.tf"), "terraform")
    providers = block(tf, "required_providers")
    assert as_map(providers.get("aws"))["version"].startswith("~> 5."), providers
    assert as_map(providers.get("aws"))["source"] == "hashicorp/aws"
    assert as_map(providers.get("random"))["version"].startswith("~> 3."), providers
    assert "s3" in json.dumps(tf.get("backend")), tf.get("backend")


# --------------------------------------------------------------------------- S3 / KMS


@pytest.mark.parametrize("directory", module_dirs(), ids=rel)
def test_buckets_encrypted_private_versioned_tls_only(directory):
    assert bucket_problems(resources_in(directory) + resources_in(directory, "data")) == []


def test_expected_buckets_exist():
    names = set()
    for rtype, name, body, _ in all_resources():
        if rtype == "aws_s3_bucket":
            names.add(name)
            if name == "this":
                assert expr(body.get("for_each")) == "local.kms_buckets"
    assert names == {"this", "access_logs"}
    storage = (TF_ROOT / "modules/storage/main.tf").read_text()
    for purpose in ("lake", "artifacts", "logs"):
        assert re.search(rf'^\s+{purpose}\s+=\s+"\$\{{var\.name\}}-{purpose}-', storage, re.M), purpose


def test_kms_keys_rotate():
    keys = [(n, b) for t, n, b, _ in all_resources() if t == "aws_kms_key"]
    assert keys
    for name, body in keys:
        assert body.get("enable_key_rotation") is True, name
        assert "data.aws_iam_policy_document." in str(body.get("policy")), name


def test_lake_lifecycle_expires_old_delta_versions():
    lifecycle = [
        b
        for t, n, b, _ in resources_in(TF_ROOT / "modules/storage")
        if t == "aws_s3_bucket_lifecycle_configuration"
    ]
    rules = [r for lc in lifecycle for r in blocks(lc, "rule")]
    assert any(block(r, "noncurrent_version_expiration").get("noncurrent_days") for r in rules)
    assert all(block(r, "abort_incomplete_multipart_upload").get("days_after_initiation") for r in rules)


# --------------------------------------------------------------------------- IAM


def _kms_policy_docs() -> set[tuple[Path, str]]:
    out = set()
    for rtype, _, body, path in all_resources():
        if rtype == "aws_kms_key":
            m = re.search(r"data\.aws_iam_policy_document\.(\w+)", str(body.get("policy")))
            if m:
                out.add((path.parent, m.group(1)))
    return out


def test_no_wildcard_action_on_wildcard_resource():
    kms_docs = _kms_policy_docs()
    docs = all_resources("data")
    policy_docs = [(n, b, p) for t, n, b, p in docs if t == "aws_iam_policy_document"]
    assert len(policy_docs) >= 10
    problems = []
    for name, body, path in policy_docs:
        problems += [
            f"{rel(path)}: {p}" for p in wildcard_problems(name, body, (path.parent, name) in kms_docs)
        ]
    assert problems == []


def test_policies_come_from_policy_documents_not_inline_json():
    """All policies are aws_iam_policy_document (so the wildcard test sees them)."""
    checked = 0
    for rtype, name, body, path in all_resources():
        attr = {
            "aws_iam_policy": "policy",
            "aws_iam_role_policy": "policy",
            "aws_s3_bucket_policy": "policy",
            "aws_kms_key": "policy",
            "aws_iam_role": "assume_role_policy",
        }.get(rtype)
        if attr:
            checked += 1
            assert re.fullmatch(
                r"\$\{data\.aws_iam_policy_document\.\w+(\[[^\]]+\])?\.json\}", str(body.get(attr))
            ), (rel(path), rtype, name, body.get(attr))
    assert checked >= 8


def test_no_admin_managed_policies():
    for rtype, name, body, path in all_resources():
        if rtype == "aws_iam_role_policy_attachment":
            arn = str(body.get("policy_arn"))
            assert not re.search(r"AdministratorAccess|PowerUserAccess|FullAccess", arn), (
                rel(path),
                name,
                arn,
            )


def test_emr_job_role_scoped_to_prefixes():
    docs = {n: b for t, n, b, _ in resources_in(TF_ROOT / "modules/emr", "data")}
    s3_resources = [
        str(r)
        for st in _statements(docs["ec2"])
        for r in as_list(st.get("resources"))
        if any(str(a).startswith("s3:") for a in as_list(st.get("actions")))
    ]
    assert s3_resources
    for res in s3_resources:
        assert "${local.lake_arn}" in res or "${local.artifacts_arn}" in res or "${local.logs_arn}" in res, (
            res
        )
        assert not res.endswith(":::*") and res != "*", res


def test_mwaa_execution_role_least_privilege():
    docs = {n: b for t, n, b, _ in resources_in(TF_ROOT / "modules/mwaa", "data")}
    sts = {st.get("sid"): st for st in _statements(docs["execution"])}
    emr = sts["SubmitEmrSteps"]
    assert "elasticmapreduce:AddJobFlowSteps" in as_list(emr["actions"])
    assert as_list(emr["resources"]) == ["${var.emr_cluster_arn}"]
    for st in sts.values():
        for action in as_list(st.get("actions")):
            assert not str(action).endswith(":*"), (st.get("sid"), action)


# --------------------------------------------------------------------------- Redis


def test_redis_encrypted_and_token_from_random_password():
    groups = [(n, b) for t, n, b, _ in all_resources() if t == "aws_elasticache_replication_group"]
    assert groups
    for name, body in groups:
        assert body.get("transit_encryption_enabled") is True, name
        assert body.get("transit_encryption_mode") == "required", name
        assert body.get("at_rest_encryption_enabled") is True, name
        assert body.get("kms_key_id"), name
        assert body.get("automatic_failover_enabled") is True, name
        assert str(expr(body.get("auth_token"))).startswith("random_password."), name
    secrets = [b for t, _, b, _ in all_resources() if t == "aws_secretsmanager_secret"]
    assert secrets and all(b.get("kms_key_id") for b in secrets)


def test_redis_sg_admits_only_security_groups():
    rules = [
        (n, b)
        for t, n, b, _ in resources_in(TF_ROOT / "modules/redis")
        if t == "aws_vpc_security_group_ingress_rule"
    ]
    assert rules
    for name, body in rules:
        assert body.get("referenced_security_group_id"), name
        assert not body.get("cidr_ipv4") and not body.get("cidr_ipv6") and not body.get("prefix_list_id"), (
            name
        )
    locals_text = (TF_ROOT / "modules/redis/main.tf").read_text()
    assert "aws_security_group.lookup.id" in locals_text and "var.emr_security_group_ids" in locals_text
    root = (TF_ROOT / "main.tf").read_text()
    assert "module.emr.primary_security_group_id" in root and "module.emr.core_security_group_id" in root


def test_no_security_group_ingress_from_internet():
    for rtype, name, body, path in all_resources():
        if rtype == "aws_vpc_security_group_ingress_rule":
            assert body.get("cidr_ipv4") not in ("0.0.0.0/0",) and body.get("cidr_ipv6") != "::/0", (
                rel(path),
                name,
            )
        if rtype == "aws_security_group":
            assert not blocks(body, "ingress"), (rel(path), name, "use aws_vpc_security_group_ingress_rule")


def test_no_literal_secrets():
    pattern = re.compile(r'^\s*(auth_token|password|secret_string)\s*=\s*"(?!\$\{)', re.M)
    for path in tf_files():
        assert not pattern.search(path.read_text()), rel(path)


# --------------------------------------------------------------------------- EMR / MWAA / network


def test_emr_cluster_spark35_autoterminates_and_encrypts():
    res = {(t, n): b for t, n, b, _ in resources_in(TF_ROOT / "modules/emr")}
    cluster = res[("aws_emr_cluster", "this")]
    assert "Spark" in as_list(cluster["applications"])
    assert expr(cluster["release_label"]) == "var.release_label"
    assert block(cluster, "auto_termination_policy").get("idle_timeout")
    assert expr(cluster["security_configuration"]) == "aws_emr_security_configuration.this.name"
    assert block(cluster, "ec2_attributes").get("instance_profile")
    conf = str(res[("aws_emr_security_configuration", "this")]["configuration"])
    for key in ("EnableInTransitEncryption", "EnableAtRestEncryption", "EnableEbsEncryption"):
        assert re.search(rf"{key}'?\s*[:=]\s*(true|True)", conf), key
    assert "SSE-KMS" in conf
    variables = single_blocks(TF_ROOT / "modules/emr/variables.tf", "variable")
    assert re.match(r"emr-7\.\d+\.\d+$", variables["release_label"]["default"])


def test_mwaa_private_with_versioned_airflow():
    res = {(t, n): b for t, n, b, _ in resources_in(TF_ROOT / "modules/mwaa")}
    env = res[("aws_mwaa_environment", "this")]
    assert expr(env["airflow_version"]) == "var.airflow_version"
    assert env["webserver_access_mode"] == "PRIVATE_ONLY"
    assert env.get("dag_s3_path") and env.get("requirements_s3_path") and env.get("kms_key")
    logging = block(env, "logging_configuration")
    for kind in ("dag_processing_logs", "scheduler_logs", "task_logs", "webserver_logs", "worker_logs"):
        assert block(logging, kind).get("enabled") is True, kind
    default = single_blocks(TF_ROOT / "variables.tf", "variable")["airflow_version"]["default"]
    assert re.match(r"^[23]\.\d+\.\d+$", default)


def test_network_has_s3_gateway_endpoint_and_flow_logs():
    res = {(t, n): b for t, n, b, _ in resources_in(TF_ROOT / "modules/network")}
    s3 = res[("aws_vpc_endpoint", "s3")]
    assert s3["vpc_endpoint_type"] == "Gateway" and str(s3["service_name"]).endswith(".s3")
    assert ("aws_flow_log", "this") in res
    for (rtype, name), body in res.items():
        if rtype == "aws_subnet":
            assert body.get("map_public_ip_on_launch") is False, name
    root_vars = single_blocks(TF_ROOT / "variables.tf", "variable")
    assert {"create_vpc", "existing_vpc_id", "existing_private_subnet_ids"} <= set(root_vars)


# --------------------------------------------------------------------------- Glue


def test_glue_topk_delta_tables():
    res = {(t, n): b for t, n, b, _ in resources_in(TF_ROOT / "modules/glue")}
    variables = single_blocks(TF_ROOT / "modules/glue/variables.tf", "variable")
    assert tuple(variables["table_names"]["default"]) == TOPK_TABLES
    table = res[("aws_glue_catalog_table", "topk")]
    assert expr(table["for_each"]) == "toset(var.table_names)"
    assert table["table_type"] == "EXTERNAL_TABLE"
    params = as_map(table["parameters"])
    assert params.get("table_type") == "DELTA" and params.get("spark.sql.sources.provider") == "delta", params
    sd = block(table, "storage_descriptor")
    assert sd["location"] == "s3://${var.lake_bucket}/tables/${each.key}"
    assert [(c["name"], c["type"]) for c in blocks(sd, "columns")] == TOPK_COLUMNS
    assert [(c["name"], c["type"]) for c in blocks(table, "partition_keys")] == [("run_date", "date")]
    assert ("aws_iam_policy", "consumer") in res


def test_glue_consumer_policy_is_read_only():
    docs = {n: b for t, n, b, _ in resources_in(TF_ROOT / "modules/glue", "data")}
    for st in _statements(docs["consumer"]):
        for action in as_list(st.get("actions")):
            action = str(action)
            if action.startswith("glue:"):
                assert action.split(":")[1].startswith(("Get", "BatchGet")), action
            if action == "s3:PutObject":  # only Athena query results
                assert all("athena-results/" in str(r) for r in as_list(st["resources"])), st


# --------------------------------------------------------------------------- variables / outputs / envs


VARIABLE_FILES = [p for p in tf_files() if p.name == "variables.tf"]


@pytest.mark.parametrize("path", VARIABLE_FILES or [None], ids=lambda p: rel(p) if p else "none")
def test_every_variable_has_description_and_type(path):
    assert path is not None
    variables = single_blocks(path, "variable")
    assert variables, rel(path)
    for name, body in variables.items():
        assert str(body.get("description", "")).strip(), f"{rel(path)}: {name} has no description"
        assert body.get("type"), f"{rel(path)}: {name} has no type"


def test_variables_only_declared_in_variables_tf():
    for path in tf_files():
        if path.name != "variables.tf":
            assert not as_list(parse_file(path).get("variable")), rel(path)


def test_required_root_outputs_present_and_described():
    outputs = single_blocks(TF_ROOT / "outputs.tf", "output")
    assert REQUIRED_ROOT_OUTPUTS <= set(outputs), REQUIRED_ROOT_OUTPUTS - set(outputs)
    for path in tf_files():
        for name, body in (single_blocks(path, "output") if path.name == "outputs.tf" else {}).items():
            assert str(body.get("description", "")).strip(), (rel(path), name)


@pytest.mark.parametrize("env", ENVS)
def test_env_tfvars(env):
    tfvars = TF_ROOT / "envs" / f"{env}.tfvars"
    backend = TF_ROOT / "envs" / f"{env}.backend.hcl"
    assert tfvars.is_file() and backend.is_file()
    values = parse_text(tfvars.read_text())
    declared = single_blocks(TF_ROOT / "variables.tf", "variable")
    assert values["environment"] == env
    assert set(values) <= set(declared), set(values) - set(declared)
    required = {n for n, b in declared.items() if "default" not in b}
    assert required <= set(values), required - set(values)
    assert re.match(r"emr-7\.", values.get("emr_release_label", "emr-7"))
    if values.get("create_vpc", True):
        assert len(values.get("availability_zones", [])) >= 2
    assert f"{env}/" in parse_text(backend.read_text())["key"]


def test_readme_documents_workflow():
    readme = (TF_ROOT / "README.md").read_text()
    for env in ENVS:
        assert f"-var-file=envs/{env}.tfvars" in readme
        assert f"-backend-config=envs/{env}.backend.hcl" in readme
    for needle in (
        "terraform init",
        "terraform plan",
        "terraform apply",
        "lake.root",
        "lake.artifacts_root",
        "airflow.emr_cluster_id",
        "RANKLAKE_LAKE_S3",
        "RANKLAKE_ARTIFACTS_S3",
        "RANKLAKE_EMR_CLUSTER_ID",
        "REDIS_URL",
        "redis_secret_arn",
        "emr_cluster_id",
        "lake_bucket",
        "artifacts_bucket",
    ):
        assert needle in readme, needle


# --------------------------------------------------------------------------- the checkers can fail


def test_checkers_reject_bad_samples():
    bad_bucket = parse_text("""
resource "aws_s3_bucket" "raw" {
  bucket = "x"
}
resource "aws_s3_bucket_server_side_encryption_configuration" "raw" {
  bucket = aws_s3_bucket.raw.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}
resource "aws_s3_bucket_public_access_block" "raw" {
  bucket                  = aws_s3_bucket.raw.id
  block_public_acls       = true
  block_public_policy     = false
  ignore_public_acls      = true
  restrict_public_buckets = true
}
""")
    resources = [(t, n, b, Path("x.tf")) for t, n, b in labelled(bad_bucket, "resource")]
    problems = bucket_problems(resources)
    assert any("not SSE-KMS" in p for p in problems), problems
    assert any("public access block" in p for p in problems), problems
    assert any("versioning" in p for p in problems), problems
    assert any("SecureTransport" in p for p in problems), problems

    bad_doc = parse_text("""
data "aws_iam_policy_document" "admin" {
  statement {
    actions   = ["*"]
    resources = ["*"]
  }
  statement {
    sid       = "s3all"
    actions   = ["s3:*"]
    resources = ["*"]
  }
}
""")
    ((_, name, body),) = labelled(bad_doc, "data")
    problems = wildcard_problems(name, body)
    assert len(problems) == 2, problems
    assert "action '*'" in problems[0] and "service wildcard" in problems[1], problems
    # ...but a KMS key policy may use kms:* on "*" (Resource "*" = this key); never "*".
    assert len(wildcard_problems(name, body, is_kms_key_policy=True)) == 1
