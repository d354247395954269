"""The HTML evaluation report of one training run (written beside the model in the registry).

Built only from a version's ``evaluation.json`` and ``metadata.json``, so the notebook
(notebooks/evaluation.ipynb) draws exactly the same figures from a registered run:
``figures(evaluation, metadata)`` returns them, ``render_html`` embeds them as PNGs.
"""
from __future__ import annotations

import base64
import html
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

HEADLINE = ("ndcg@5", "ndcg@10", "ndcg@20", "mrr", "map@10", "recall@10")


def _bars(ax: Any, labels: list[str], series: dict[str, list[float]]) -> None:
    width = 0.8 / max(1, len(series))
    for i, (name, vals) in enumerate(series.items()):
        ax.bar([x + i * width for x in range(len(labels))], vals, width, label=name)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(labels))], labels, rotation=30,
                  ha="right")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)


def fig_vs_baselines(ev: dict[str, Any]) -> Figure:
    fig, ax = plt.subplots(figsize=(9, 4))
    sc = ev["scorers"]
    _bars(ax, list(HEADLINE), {n: [s["overall"].get(m, float("nan")) for m in HEADLINE]
                               for n, s in sc.items()})
    ax.set_title("Model vs baselines (test split)")
    return fig


def fig_segments(ev: dict[str, Any], metric: str = "ndcg@10") -> Figure:
    sc = ev["scorers"]
    segs = sorted({*sc["model"]["by_segment"], *[f"list_type={k}" for k in sc["model"]["by_list_type"]]})

    def val(s: dict[str, Any], seg: str) -> float:
        if seg.startswith("list_type="):
            return s["by_list_type"].get(seg.split("=", 1)[1], {}).get(metric, float("nan"))
        return s["by_segment"].get(seg, {}).get(metric, float("nan"))

    fig, ax = plt.subplots(figsize=(10, 4))
    _bars(ax, segs, {n: [val(s, g) for g in segs] for n, s in sc.items()})
    ax.set_title(f"{metric} per segment and list type")
    return fig


def fig_importance(meta: dict[str, Any], top: int = 20) -> Figure:
    imp = sorted(meta.get("feature_importance", {}).items(), key=lambda kv: -kv[1])[:top]
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.25 * len(imp))))
    ax.barh([k for k, _ in imp][::-1], [v for _, v in imp][::-1])
    ax.set_title("Feature importance (total gain)")
    return fig


def fig_scores(ev: dict[str, Any]) -> Figure:
    h = ev.get("score_hist") or {}
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if h:
        edges = h["edges"]
        centers = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:])]
        width = (edges[1] - edges[0]) if len(edges) > 1 else 1.0
        ax.bar(centers, h["irrelevant"], width, alpha=0.6, label="label = 0")
        ax.bar(centers, h["relevant"], width, alpha=0.6, label="label > 0")
        ax.legend()
    ax.set_title("Model score distribution on the test split")
    return fig


def fig_ndcg_by_k(ev: dict[str, Any]) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, s in ev["scorers"].items():
        curve = s["ndcg_by_k"]
        ks = sorted(int(k) for k in curve)
        ax.plot(ks, [curve[str(k)] for k in ks], marker="o", label=name)
    ax.set_xlabel("k")
    ax.set_ylabel("NDCG@k")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax.set_title("NDCG by k")
    return fig


def figures(ev: dict[str, Any], meta: dict[str, Any]) -> dict[str, Figure]:
    return {"Metrics vs baselines": fig_vs_baselines(ev), "Per segment": fig_segments(ev),
            "Feature importance": fig_importance(meta), "Score distribution": fig_scores(ev),
            "NDCG by k": fig_ndcg_by_k(ev)}


def figure_png(fig: Figure) -> bytes:
    """PNG bytes of a figure (closes it); the notebook displays these."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def _png(fig: Figure) -> str:
    return base64.b64encode(figure_png(fig)).decode()


def _table(ev: dict[str, Any]) -> str:
    head = "".join(f"<th>{m}</th>" for m in (*HEADLINE, "coverage@10"))
    rows = []
    for name, s in ev["scorers"].items():
        cells = "".join(f"<td>{s['overall'].get(m, float('nan')):.4f}</td>" for m in HEADLINE)
        rows.append(f"<tr><td>{html.escape(name)}</td>{cells}<td>{s['coverage@10']:.4f}</td></tr>")
    return f"<table><tr><th>scorer</th>{head}</tr>{''.join(rows)}</table>"


def render_html(ev: dict[str, Any], meta: dict[str, Any]) -> str:
    gate = meta.get("gate") or {}
    oracle = ev.get("oracle")
    info = [f"version: {meta.get('version', '(unregistered)')}", f"run date: {meta.get('run_date')}",
            f"backend: {meta.get('backend')}", f"best iteration: {meta.get('best_iteration')}",
            f"test rows/groups: {ev['n_rows']}/{ev['n_groups']}",
            f"data versions: {meta.get('data_versions')}",
            f"gate: {'PASSED' if gate.get('passed') else 'FAILED'} — {gate.get('message', '')}"]
    if oracle:
        info.append(f"oracle ndcg@10 {oracle['oracle']['ndcg@10']:.4f} vs model "
                    f"{oracle['model']['ndcg@10']:.4f} on {oracle['n_groups']} groups "
                    f"({', '.join(oracle['list_types'])}): ratio "
                    f"{oracle['model_over_oracle_ndcg10']:.3f}")
    for name, c in (ev.get("model_vs") or {}).items():
        if c.get("n_groups"):
            info.append(f"model - {name}: ndcg@10 {c['diff']:+.4f} per group, 95% CI "
                        f"[{c['ci'][0]:+.4f}, {c['ci'][1]:+.4f}] on {c['n_groups']} groups (paired "
                        f"bootstrap): {'clearly better' if c['clearly_better'] else 'not clearly better'}")
    imgs = "".join(f"<h2>{html.escape(t)}</h2><img src='data:image/png;base64,{_png(f)}'/>"
                   for t, f in figures(ev, meta).items())
    lis = "".join(f"<li>{html.escape(str(x))}</li>" for x in info)
    return ("<!doctype html><html><head><meta charset='utf-8'><title>ranklake evaluation</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 8px;border:1px solid #ccc}"
            "table{border-collapse:collapse}</style></head><body>"
            f"<h1>ranklake evaluation report</h1><ul>{lis}</ul>{_table(ev)}{imgs}</body></html>")
