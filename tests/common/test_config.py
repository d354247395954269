from __future__ import annotations

import os

import pytest

from jobs.common.config import ConfigError, artifacts_root, load_config


def _write(tmp_path, base: str, env: str = "") -> None:
    (tmp_path / "base.yaml").write_text(base)
    (tmp_path / "local.yaml").write_text(env)


def test_real_conf_files_validate_for_every_env(monkeypatch):
    monkeypatch.setenv("RANKLAKE_HOME", "/data/lake")
    for env in ("local", "test", "emr"):
        cfg = load_config(env)
        assert cfg.env == env
    assert load_config("local").lake.root == "/data/lake"
    assert load_config("emr").spark.master is None
    assert load_config("emr").lake.root.startswith("s3://")


def test_default_lake_root_and_artifacts(monkeypatch):
    monkeypatch.delenv("RANKLAKE_HOME", raising=False)
    monkeypatch.delenv("RANKLAKE_ARTIFACTS", raising=False)
    cfg = load_config("local")
    assert cfg.lake.root == os.path.abspath("./lake")  # resolved once, at load time
    assert artifacts_root(cfg) == os.path.abspath("./lake") + "/_artifacts"


def test_redis_url_from_env(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert load_config("local").redis.url is None
    monkeypatch.setenv("REDIS_URL", "redis://10.0.0.5:6379/0")
    assert load_config("local").redis.url == "redis://10.0.0.5:6379/0"


ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ranklake-prod/redis/auth-AbC1eF"


def test_redis_secret_arn_from_env_in_every_env(monkeypatch):
    monkeypatch.delenv("RANKLAKE_REDIS_SECRET_ARN", raising=False)
    for env in ("local", "test", "emr"):
        assert load_config(env).redis.secret_arn is None
    monkeypatch.setenv("RANKLAKE_REDIS_SECRET_ARN", ARN)
    for env in ("local", "test", "emr"):
        assert load_config(env).redis.secret_arn == ARN
    cn = "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x/redis/auth"  # partition, no suffix
    assert load_config("emr", [f"redis.secret_arn={cn}"]).redis.secret_arn == cn


@pytest.mark.parametrize("value", [
    "rediss://:t0ken@master.x.cache.amazonaws.com:6379/0",  # a URL pasted where the ARN belongs
    "ranklake-prod/redis/auth",  # a name: the region would be unknown
    "arn:aws:s3:::ranklake-prod-lake",
    "arn:aws:secretsmanager:eu-west-1:1234:secret:x",
])
def test_redis_secret_arn_must_be_an_arn_and_is_not_echoed(monkeypatch, value):
    monkeypatch.setenv("RANKLAKE_REDIS_SECRET_ARN", value)
    with pytest.raises(ConfigError) as err:
        load_config("emr")
    msg = str(err.value)
    assert msg.startswith("config key 'redis.secret_arn': ") and "Secrets Manager secret ARN" in msg
    assert value not in msg and "(value not shown)" in msg


def test_unknown_key_names_the_key(tmp_path):
    _write(tmp_path, "lake: {root: /x}\ntopk: {kk: 3}\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'topk.kk'"):
        load_config("local", conf_dir=tmp_path)


def test_missing_key_names_the_key(tmp_path):
    _write(tmp_path, "spark: {master: 'local[1]'}\n")
    with pytest.raises(ConfigError, match=r"missing config key 'lake'"):
        load_config("local", conf_dir=tmp_path)


def test_wrong_type_names_key_and_value(tmp_path):
    _write(tmp_path, "lake: {root: /x}\ntopk: {k: lots}\n")
    with pytest.raises(ConfigError, match=r"config key 'topk.k'.*'lots'"):
        load_config("local", conf_dir=tmp_path)


def test_env_file_overrides_base_and_cli_overrides_both(tmp_path):
    _write(tmp_path, "lake: {root: /x}\ntopk: {k: 10, list_types: [user]}\n", "topk: {k: 20}\n")
    cfg = load_config("local", conf_dir=tmp_path)
    assert cfg.topk.k == 20 and cfg.topk.list_types == ["user"]
    cfg = load_config("local", ["topk.k=30", "train.backend=spark", "topk.list_types=[query, item]"],
                      conf_dir=tmp_path)
    assert cfg.topk.k == 30 and cfg.train.backend == "spark"
    assert cfg.topk.list_types == ["query", "item"]


def test_bad_override_and_unknown_env(tmp_path):
    _write(tmp_path, "lake: {root: /x}\n")
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config("local", ["topk.k"], conf_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown config key 'nope'"):
        load_config("local", ["nope.x=1"], conf_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown env 'prod'"):
        load_config("prod", conf_dir=tmp_path)
    with pytest.raises(ConfigError, match="'train.backend'"):
        load_config("local", ["train.backend=gpu"], conf_dir=tmp_path)


def test_env_var_expansion(tmp_path, monkeypatch):
    _write(tmp_path, "lake: {root: '${MY_LAKE}/sub', artifacts_root: '${MY_ART:-/art}'}\n")
    monkeypatch.setenv("MY_LAKE", "/mnt/l")
    monkeypatch.delenv("MY_ART", raising=False)
    cfg = load_config("local", conf_dir=tmp_path)
    assert cfg.lake.root == "/mnt/l/sub" and cfg.lake.artifacts_root == "/art"
    monkeypatch.delenv("MY_LAKE")
    with pytest.raises(ConfigError, match=r"'lake.root'.*\$\{MY_LAKE\} is not set"):
        load_config("local", conf_dir=tmp_path)


def test_invalid_yaml_is_a_clear_error(tmp_path):
    _write(tmp_path, "lake: {root: /x\n")
    expected = r"base.yaml: not valid YAML at line 2, column 1: expected ',' or '}'"
    with pytest.raises(ConfigError, match=expected):
        load_config("local", conf_dir=tmp_path)


def test_no_secrets_in_conf_files():
    from pathlib import Path

    import yaml

    def walk(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, f"{key}.{k}")
        else:
            yield key, node

    for path in Path(__file__).resolve().parents[2].joinpath("conf").glob("*.yaml"):
        for key, value in walk(yaml.safe_load(path.read_text()) or {}):
            if any(s in key.lower() for s in ("password", "secret", "api_key", "token")):
                assert value is None or str(value).startswith("${"), f"{path.name}{key} holds a value"


def test_overrides_of_dotted_keys_in_free_form_maps():
    """Spark settings and storage options have dots in their own keys: the rest of the --conf
    key below spark.conf / lake.storage_options is one key, and the yaml values stay."""
    cfg = load_config("test", ["spark.conf.spark.python.daemon.module=pyspark.daemon",
                               "lake.storage_options.aws.region=eu-west-1"])
    assert cfg.spark.conf["spark.python.daemon.module"] == "pyspark.daemon"
    assert cfg.spark.conf["spark.sql.adaptive.enabled"] == "false"  # from conf/test.yaml
    assert cfg.lake.storage_options == {"aws.region": "eu-west-1"}
    with pytest.raises(ConfigError, match="spark.conf"):
        load_config("test", ["spark.conf=3"])
