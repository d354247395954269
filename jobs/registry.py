"""Model registry: versioned artifacts and the champion pointer, on local disk or S3.

Layout under ``<artifacts_root>/models/`` (``jobs.common.config.artifacts_root``)::

    <version>/model.txt         LightGBM native text model (every backend produces this format)
    <version>/evaluation.json   full evaluation (scorers, segments, oracle, score histograms)
    <version>/report.html       the evaluation report
    <version>/metadata.json     metrics, params, feature list, data versions, run_date, gate,
                                sha256 of every file above; written LAST, so a version without
                                it is an incomplete registration and is never loaded
    champion.json               {"version", "run_date", "promoted_at", "history": [...]}

``version`` is ``<run_date yyyymmdd>-<sha256(model.txt)[:10]>``: a rerun that trains the same
model registers the same version (idempotent). The pointer is one small object, replaced
atomically (``os.replace`` locally, a single PUT on S3). Promotion and loading verify the model
checksum, so a corrupt or missing artifact raises ``RegistryError`` and never becomes champion.

    ranklake registry list --env local
    ranklake registry show [VERSION] --env local        # default: the champion
    ranklake registry promote VERSION [--force] --env local
    ranklake registry rollback [--to VERSION] --env local
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from jobs.common.cli import run_module
from jobs.common.config import artifacts_root, join
from jobs.common.errors import RegistryError

if TYPE_CHECKING:
    import lightgbm as lgb
    import pandas as pd

    from jobs.common.cli import JobContext
    from jobs.common.config import Settings

MODELS = "models"
POINTER = "champion.json"
FILES = ("model.txt", "evaluation.json", "report.html")


# --------------------------------------------------------------------------- storage
class Store:
    """Bytes under a local directory or an s3:// prefix (boto3; honours $AWS_ENDPOINT_URL)."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")
        self.s3 = self.root.startswith("s3://")
        if self.s3:
            import boto3

            self.bucket, _, self.prefix = self.root.removeprefix("s3://").partition("/")
            self.client = boto3.client("s3")

    def _key(self, rel: str) -> str:
        return "/".join(p for p in (self.prefix, rel) if p)

    def uri(self, rel: str) -> str:
        return join(self.root, rel)

    def put(self, rel: str, data: bytes) -> None:
        if self.s3:
            self.client.put_object(Bucket=self.bucket, Key=self._key(rel), Body=data)
            return
        path = self.uri(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def get(self, rel: str) -> bytes | None:
        if self.s3:
            try:
                return self.client.get_object(Bucket=self.bucket, Key=self._key(rel))["Body"].read()
            except self.client.exceptions.NoSuchKey:
                return None
        try:
            with open(self.uri(rel), "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None

    def dirs(self, rel: str) -> list[str]:
        if self.s3:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(rel).rstrip("/") + "/", Delimiter="/")
            return sorted(p["Prefix"].rstrip("/").rsplit("/", 1)[-1]
                          for page in pages for p in page.get("CommonPrefixes", []))
        path = self.uri(rel)
        return sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d))) \
            if os.path.isdir(path) else []


def store(cfg: Settings) -> Store:
    return Store(join(artifacts_root(cfg), MODELS))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- models
@dataclass
class Model:
    version: str
    booster: lgb.Booster
    feature_columns: list[str]
    metadata: dict[str, Any]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.feature_columns if c not in frame.columns]
        if missing:
            raise RegistryError(f"model {self.version}: input lacks feature column(s) {missing[:5]}")
        X = frame[self.feature_columns].to_numpy(dtype=np.float64, na_value=np.nan)
        return self.booster.predict(X, num_threads=1)


def make_version(run_date: str, model_text: str) -> str:
    return f"{run_date.replace('-', '')}-{sha256(model_text.encode())[:10]}"


def register(cfg: Settings, model_text: str, metadata: dict[str, Any],
             files: dict[str, bytes] | None = None) -> str:
    """Write a version's artifacts, metadata.json last (the completion marker)."""
    st = store(cfg)
    version = make_version(str(metadata["run_date"]), model_text)
    blobs = {"model.txt": model_text.encode(), **(files or {})}
    for name, data in blobs.items():
        st.put(f"{version}/{name}", data)
    meta = {**metadata, "version": version,
            "checksums": {name: sha256(data) for name, data in blobs.items()}}
    st.put(f"{version}/metadata.json", json.dumps(meta, indent=2, default=str).encode())
    return version


def metadata(cfg: Settings, version: str) -> dict[str, Any]:
    raw = store(cfg).get(f"{version}/metadata.json")
    if raw is None:
        raise RegistryError(f"model {version}: metadata.json missing under "
                            f"{store(cfg).uri(version)} (unknown or incomplete version)")
    try:
        return json.loads(raw)
    except ValueError:
        raise RegistryError(f"model {version}: metadata.json is not valid JSON") from None


def load_model(cfg: Settings, version: str) -> Model:
    """Load and verify one version; RegistryError when anything is missing or corrupt."""
    import lightgbm as lgb

    meta = metadata(cfg, version)
    raw = store(cfg).get(f"{version}/model.txt")
    if raw is None:
        raise RegistryError(f"model {version}: model.txt missing under {store(cfg).uri(version)}")
    want = meta.get("checksums", {}).get("model.txt")
    if want != sha256(raw):
        raise RegistryError(f"model {version}: model.txt checksum mismatch (corrupt artifact); "
                            f"expected {str(want)[:12]}, got {sha256(raw)[:12]}")
    try:
        booster = lgb.Booster(model_str=raw.decode())
    except Exception as exc:
        raise RegistryError(f"model {version}: model.txt does not load: {exc}") from None
    return Model(version, booster, list(meta["feature_columns"]), meta)


def pointer(cfg: Settings) -> dict[str, Any] | None:
    raw = store(cfg).get(POINTER)
    return json.loads(raw) if raw is not None else None


def load_champion(cfg: Settings) -> Model:
    ptr = pointer(cfg)
    if not ptr:
        raise RegistryError(f"no champion model yet ({store(cfg).uri(POINTER)} missing); "
                            "run `ranklake train` first")
    return load_model(cfg, ptr["version"])


def promote(cfg: Settings, version: str, reason: str = "manual") -> dict[str, Any]:
    """Make ``version`` the champion after verifying it loads; keeps the previous in history."""
    model = load_model(cfg, version)  # raises before the pointer is touched
    old = pointer(cfg)
    history = list(old.get("history", [])) if old else []
    if old and old.get("version") != version:
        history.append({k: old[k] for k in ("version", "run_date", "promoted_at", "reason")
                        if k in old})
    new = {"version": version, "run_date": str(model.metadata.get("run_date")),
           "promoted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "reason": reason, "history": history[-50:]}
    store(cfg).put(POINTER, json.dumps(new, indent=2).encode())
    return new


def rollback(cfg: Settings, to: str | None = None) -> dict[str, Any]:
    """Back to ``to`` or the previous champion (which must still load)."""
    ptr = pointer(cfg)
    if not ptr:
        raise RegistryError("no champion to roll back from")
    history = list(ptr.get("history", []))
    if to is None:
        if not history:
            raise RegistryError(f"champion {ptr['version']} has no previous version to roll back to")
        to = history[-1]["version"]
    load_model(cfg, to)
    history = [h for h in history if h["version"] != to]
    new = {"version": to, "run_date": str(metadata(cfg, to).get("run_date")),
           "promoted_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "reason": f"rollback from {ptr['version']}", "history": history}
    store(cfg).put(POINTER, json.dumps(new, indent=2).encode())
    return new


def list_versions(cfg: Settings) -> list[dict[str, Any]]:
    champ = (pointer(cfg) or {}).get("version")
    out = []
    for v in store(cfg).dirs(""):
        try:
            meta = metadata(cfg, v)
        except RegistryError:
            out.append({"version": v, "status": "incomplete"})
            continue
        out.append({"version": v, "run_date": meta.get("run_date"), "backend": meta.get("backend"),
                    "ndcg@10": meta.get("metrics", {}).get("ndcg@10"),
                    "gate": (meta.get("gate") or {}).get("passed"), "champion": v == champ})
    return out


# --------------------------------------------------------------------------- CLI
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["list", "show", "promote", "rollback"])
    p.add_argument("version", nargs="?", help="model version (show/promote)")
    p.add_argument("--to", help="rollback target version (default: the previous champion)")
    p.add_argument("--force", action="store_true", help="promote even if its gate failed")


def run(ctx: JobContext) -> None:
    cfg, a = ctx.cfg, ctx.args
    if a.action == "list":
        rows = list_versions(cfg)
        for r in rows:
            print(json.dumps(r, default=str))
        ctx.rec.count("versions", len(rows))
    elif a.action == "show":
        version = a.version or (pointer(cfg) or {}).get("version")
        if not version:
            raise RegistryError("no champion yet; pass a VERSION")
        print(json.dumps({"champion": pointer(cfg), "metadata": metadata(cfg, version)},
                         indent=2, default=str))
    elif a.action == "promote":
        if not a.version:
            raise RegistryError("registry promote needs a VERSION")
        gate = metadata(cfg, a.version).get("gate") or {}
        if gate.get("passed") is False and not a.force:
            raise RegistryError(f"model {a.version} failed its gate ({gate.get('message')}); "
                                "pass --force to promote it anyway")
        new = promote(cfg, a.version, "manual" + (" --force" if a.force else ""))
        print(f"champion is now {new['version']}")
        ctx.rec.count("champion", new["version"])
    else:
        new = rollback(cfg, a.to)
        print(f"champion rolled back to {new['version']}")
        ctx.rec.count("champion", new["version"])


if __name__ == "__main__":
    sys.exit(run_module("registry"))
