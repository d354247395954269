"""Load conf/rules.yaml into typed rule sets (the single source of truth for validation).

``$name`` values are resolved from the ``validate:`` config section, so a threshold lives in one
place and can be overridden with ``--conf validate.bot_max_events_per_day=200``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from jobs.common.config import CONF_DIR, ConfigError

if TYPE_CHECKING:
    from jobs.common.config import Settings

# kind -> required parameters (beyond reason/kind)
KINDS: dict[str, tuple[str, ...]] = {
    "not_null": ("column",),
    "in_set": ("column", "values"),
    "between": ("column",),  # min and/or max; null values pass
    "regex": ("column", "pattern"),  # null values fail
    "not_after_ingest": ("column", "tolerance_days"),
    "max_age_days": ("column", "days"),
    "unique_key": ("columns", "keep_first_by"),
    "in_catalog": ("column",),
    "max_per_group": ("group_by", "max"),
    # more than `max` rows with `column` in `values` within `window_seconds` of `time_column`
    "max_in_window": ("group_by", "time_column", "column", "values", "window_seconds", "max"),
    "query_text": ("column", "max_length", "forbid_regex"),
}
SPARK_TYPES = {"string": "StringType", "int": "IntegerType", "long": "LongType",
               "double": "DoubleType", "boolean": "BooleanType", "timestamp": "TimestampType",
               "date": "DateType"}


@dataclass(frozen=True)
class Rule:
    reason: str
    kind: str
    params: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self.params[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


@dataclass(frozen=True)
class RuleSet:
    name: str  # "events" | "catalog"
    version: str
    schema: dict[str, str]
    rules: tuple[Rule, ...]
    min_rows: int | None = None
    max_rows: int | None = None
    reasons: tuple[str, ...] = field(init=False)
    bot_reasons: tuple[str, ...] = field(init=False)  # rules with `bot: true` (bot_share check)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reasons", tuple(r.reason for r in self.rules))
        object.__setattr__(self, "bot_reasons",
                           tuple(r.reason for r in self.rules if r.get("bot") is True))

    def rule(self, reason: str) -> Rule:
        for r in self.rules:
            if r.reason == reason:
                return r
        raise KeyError(f"no rule with reason {reason!r} in the {self.name} rules")


def rules_path(cfg: Settings) -> Path:
    return Path(cfg.validate_.rules_file) if cfg.validate_.rules_file else CONF_DIR / "rules.yaml"


def _resolve(value: Any, params: dict[str, Any], where: str) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        name = value[1:]
        if name not in params:
            raise ConfigError(f"{where}: '{value}' is not a key of the validate: config section")
        return params[name]
    if isinstance(value, list):
        return [_resolve(v, params, where) for v in value]
    return value


def _check_params(kind: str, prm: dict[str, Any], where: str) -> None:
    """Values a Spark predicate cannot be built from fail here, naming the rule."""
    if "bot" in prm and not isinstance(prm["bot"], bool):
        raise ConfigError(f"{where}: 'bot' must be true or false, got {prm['bot']!r}")
    if kind == "max_in_window":
        w, m = prm["window_seconds"], prm["max"]
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise ConfigError(f"{where}: window_seconds must be an integer >= 1, got {w!r}")
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ConfigError(f"{where}: max must be an integer >= 1, got {m!r}")
        if not isinstance(prm["values"], list) or not prm["values"]:
            raise ConfigError(f"{where}: values must be a non-empty list")


def parse_rules(tree: dict[str, Any], params: dict[str, Any], source: str = "rules") -> dict[
        str, RuleSet]:
    """Rule sets from a parsed rules document; ``params`` resolves ``$name`` values."""
    version = str(tree.get("version") or "")
    if not version:
        raise ConfigError(f"{source}: missing 'version'")
    out: dict[str, RuleSet] = {}
    for name in ("events", "catalog"):
        section = tree.get(name)
        if not isinstance(section, dict):
            raise ConfigError(f"{source}: missing section '{name}'")
        schema = {str(k): str(v) for k, v in (section.get("schema") or {}).items()}
        bad_types = [f"{k}: {v}" for k, v in schema.items() if v not in SPARK_TYPES]
        if bad_types:
            raise ConfigError(f"{source}: {name}.schema has unknown types {bad_types}")
        rules: list[Rule] = []
        seen: set[str] = set()
        for i, raw in enumerate(section.get("rules") or []):
            where = f"{source}: {name}.rules[{i}]"
            if not isinstance(raw, dict) or "reason" not in raw or "kind" not in raw:
                raise ConfigError(f"{where}: each rule needs 'reason' and 'kind'")
            kind, reason = raw["kind"], str(raw["reason"])
            if kind not in KINDS:
                raise ConfigError(f"{where}: unknown kind '{kind}'; known: {', '.join(KINDS)}")
            missing = [k for k in KINDS[kind] if k not in raw]
            if missing:
                raise ConfigError(f"{where} ({reason}): missing {missing}")
            if reason in seen:
                raise ConfigError(f"{where}: reason '{reason}' listed twice")
            seen.add(reason)
            prm = {k: _resolve(v, params, where) for k, v in raw.items()
                   if k not in ("reason", "kind")}
            _check_params(kind, prm, f"{where} ({reason})")
            rules.append(Rule(reason, kind, prm))
        vol = section.get("volume") or {}
        out[name] = RuleSet(name, version, schema, tuple(rules), vol.get("min_rows"),
                            vol.get("max_rows"))
    return out


def load_rules(cfg: Settings, path: Path | str | None = None) -> dict[str, RuleSet]:
    """Both rule sets (``events``, ``catalog``) from conf/rules.yaml (or ``path``)."""
    p = Path(path) if path else rules_path(cfg)
    try:
        tree = yaml.safe_load(p.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"validation rules file {p} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    return parse_rules(tree, cfg.validate_.model_dump(), str(p))
