"""The synthetic world: catalog, users, query pool and their latent factors (numpy, no Spark).

Built deterministically from ``WorldParams`` on the driver (to write raw_catalog / raw_users /
judgments) and again inside each Spark task (to generate that task's events), so nothing but the
parameters is shipped to executors. Its size is bounded by items/users/queries, never by events.

True utility is a deterministic function of latent factors:
  user u, item i:  sigmoid(2.0 * (u . v_i) / K + quality_i - 1.0)
  query q, item i: sigmoid(1.5 * (q . v_i) / K + quality_i + 1.2*[same leaf] + 0.4*[same child]
                           + 0.9*[brand asked and matches] + 0.6*[adjective asked and matches] - 2.4)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

import numpy as np

from jobs.common.text import normalize_query
from jobs.gen import vocab

K = 8  # latent dimensions
N_CAND = 60  # candidate list length per query / leaf
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_BRAND_CODE = {b: i for i, b in enumerate(sorted({b for bs in vocab.BRANDS.values() for b in bs}))}
_ADJ_CODE = {a: i for i, a in enumerate(sorted({a for xs in vocab.ADJECTIVES.values() for a in xs}))}


@dataclass(frozen=True)
class WorldParams:
    seed: int
    items: int
    users: int
    queries: int
    days: int
    end_date: date
    zipf_alpha: float = 0.9

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)

    def day_start_us(self, day: int) -> int:
        """UTC micros of 00:00 on window day ``day`` (0 = start_date)."""
        d = datetime.combine(self.start_date + timedelta(days=day), datetime.min.time(), timezone.utc)
        return int((d - EPOCH).total_seconds()) * 1_000_000


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class World:
    def __init__(self, p: WorldParams) -> None:
        self.p = p
        self._leaves()
        self._items(np.random.default_rng([p.seed, 1]))
        self._users(np.random.default_rng([p.seed, 2]))
        self._queries(np.random.default_rng([p.seed, 3]))

    # ------------------------------------------------------------------ catalog
    def _leaves(self) -> None:
        rng = np.random.default_rng([self.p.seed, 0])
        roots = sorted({r for r, _, _, _ in vocab.LEAVES})
        childs = sorted({f"{r}/{c}" for r, c, _, _ in vocab.LEAVES})
        root_vec = {r: rng.normal(0, 1, K) for r in roots}
        child_vec = {c: rng.normal(0, 1, K) for c in childs}
        self.leaf_root = np.array([roots.index(r) for r, _, _, _ in vocab.LEAVES])
        self.leaf_child = np.array([childs.index(f"{r}/{c}") for r, c, _, _ in vocab.LEAVES])
        self.leaf_path = [f"{r}/{c}/{n.replace(' ', '_')}" for r, c, n, _ in vocab.LEAVES]
        self.leaf_vec = np.stack([0.6 * root_vec[r] + 0.6 * child_vec[f"{r}/{c}"] + 0.6 * rng.normal(0, 1, K)
                                  for r, c, _, _ in vocab.LEAVES])
        self.roots = roots

    def _items(self, rng: np.random.Generator) -> None:
        p, n_leaf = self.p, len(vocab.LEAVES)
        m = p.items
        leaf_w = rng.gamma(2.0, 1.0, n_leaf)
        leaf = np.sort(rng.choice(n_leaf, m, p=leaf_w / leaf_w.sum()))
        self.item_leaf = leaf
        self.item_child = self.leaf_child[leaf]
        self.item_vec = (self.leaf_vec[leaf] + 0.55 * rng.normal(0, 1, (m, K))).astype(np.float64)
        self.item_quality = rng.normal(0, 0.5, m)
        brand_idx = rng.integers(0, 1_000_000, m)
        adj_idx = rng.integers(0, 1_000_000, m)
        suffix = rng.integers(0, len(vocab.SUFFIXES), m)
        titles, brands, adjs = [], [], []
        for i in range(m):
            root, _, noun, _ = vocab.LEAVES[leaf[i]]
            b = vocab.BRANDS[root][brand_idx[i] % len(vocab.BRANDS[root])]
            a = vocab.ADJECTIVES[root][adj_idx[i] % len(vocab.ADJECTIVES[root])]
            brands.append(b)
            adjs.append(a)
            titles.append(f"{b} {a.title()} {noun.title()}{vocab.SUFFIXES[suffix[i]]}")
        self.item_brand, self.item_adj, self.item_title = brands, adjs, titles
        self.item_brand_code = np.array([_BRAND_CODE[b] for b in brands], np.int64)
        self.item_adj_code = np.array([_ADJ_CODE[a] for a in adjs], np.int64)
        self.item_category = [self.leaf_path[x] for x in leaf]
        med = np.array([vocab.LEAVES[x][3] for x in leaf])
        self.item_price = np.round(np.exp(np.log(med) + rng.normal(0, 0.45, m)), 0) - 0.01
        self.item_price = np.maximum(self.item_price, 0.99)
        self.item_in_stock = rng.random(m) < 0.95
        # 80% of items exist before the window; the rest appear uniformly over it
        new = rng.random(m) < 0.2
        created_day = np.where(new, rng.integers(1, max(2, p.days), m), -rng.integers(1, 365, m))
        self.item_created_day = created_day
        self.item_created_us = (p.day_start_us(0) + created_day.astype(np.int64) * 86_400_000_000
                                + rng.integers(0, 86_400_000_000, m))
        # popularity: Zipf over a quality-correlated order
        order = np.argsort(-(self.item_quality + rng.normal(0, 0.6, m)))
        rank = np.empty(m, np.int64)
        rank[order] = np.arange(1, m + 1)
        self.item_pop = 1.0 / rank.astype(np.float64) ** p.zipf_alpha
        self.item_logpop = np.log(self.item_pop * m)
        self.item_ids = np.array([f"i{i:07d}" for i in range(m)], dtype=object)
        # candidate pools: per leaf by popularity, and a global popular list
        self.leaf_cand = np.full((n_leaf, N_CAND), -1, np.int64)
        for lf in range(n_leaf):
            members = np.nonzero(leaf == lf)[0]
            top = members[np.argsort(-self.item_pop[members], kind="stable")][:N_CAND]
            self.leaf_cand[lf, :len(top)] = top
        self.global_cand = np.argsort(-self.item_pop, kind="stable")[:N_CAND]

    # ------------------------------------------------------------------ users
    def _users(self, rng: np.random.Generator) -> None:
        p, n = self.p, self.p.users
        n_leaf = len(vocab.LEAVES)
        leaf_pop = np.bincount(self.item_leaf, minlength=n_leaf) + 1.0
        prefs = rng.choice(n_leaf, (n, 2), p=leaf_pop / leaf_pop.sum())
        prefs[:, 1] = np.where(prefs[:, 1] == prefs[:, 0], (prefs[:, 0] + 1) % n_leaf, prefs[:, 1])
        self.user_pref = prefs
        self.user_vec = (0.65 * self.leaf_vec[prefs[:, 0]] + 0.35 * self.leaf_vec[prefs[:, 1]]
                         + 0.6 * rng.normal(0, 1, (n, K)))
        # 25% sign up inside the window (segment "new"); the rest up to two years before
        new = rng.random(n) < 0.25
        self.user_signup_day = np.where(new, rng.integers(0, p.days, n), -rng.integers(1, 730, n))
        seg = rng.choice([1, 2, 3], n, p=[0.6, 0.3, 0.1])
        self.user_segment = np.where(new, 0, seg)
        act = np.array([vocab.SEGMENT_ACTIVITY[s] for s in vocab.SEGMENTS])
        self.user_activity = act[self.user_segment] * rng.lognormal(0, 0.4, n)
        self.user_ids = np.array([f"u{i:07d}" for i in range(n)], dtype=object)

    # ------------------------------------------------------------------ queries
    def _queries(self, rng: np.random.Generator) -> None:
        n_leaf = len(vocab.LEAVES)
        leaf_pop = np.bincount(self.item_leaf, minlength=n_leaf) + 1.0
        texts: list[str] = []
        leaf, brand, adj = [], [], []
        seen: set[str] = set()
        tries = 0
        while len(texts) < self.p.queries and tries < self.p.queries * 50:
            tries += 1
            lf = int(rng.choice(n_leaf, p=leaf_pop / leaf_pop.sum()))
            root, _, noun, _ = vocab.LEAVES[lf]
            kind = rng.choice(4, p=[0.35, 0.3, 0.25, 0.1])
            b = vocab.BRANDS[root][rng.integers(len(vocab.BRANDS[root]))] if kind in (2, 3) else None
            a = vocab.ADJECTIVES[root][rng.integers(len(vocab.ADJECTIVES[root]))] if kind in (1, 3) else None
            text = " ".join(x for x in (b, a, noun) if x).lower()
            if text in seen:
                continue
            seen.add(text)
            texts.append(text)
            leaf.append(lf)
            brand.append(b)
            adj.append(a)
        self.query_text = texts
        self.query_leaf = np.array(leaf, np.int64)
        self.query_brand, self.query_adj = brand, adj
        self.query_brand_code = np.array([_BRAND_CODE.get(b, -1) for b in brand], np.int64)
        self.query_adj_code = np.array([_ADJ_CODE.get(a, -1) for a in adj], np.int64)
        q = len(texts)
        self.query_vec = self.leaf_vec[self.query_leaf] + 0.4 * rng.normal(0, 1, (q, K))
        self.query_pop = 1.0 / np.arange(1, q + 1, dtype=np.float64) ** 1.0
        rng.shuffle(self.query_pop)
        self.query_pop /= self.query_pop.sum()
        self._variants(rng, seen)
        # candidate list per query: items of the same child category by static query utility
        self.query_cand = np.full((q, N_CAND), -1, np.int64)
        self.query_cand_score = np.full((q, N_CAND), -np.inf)
        for qi in range(q):
            members = np.nonzero(self.item_child == self.leaf_child[self.query_leaf[qi]])[0]
            if len(members) == 0:
                continue
            s = self.query_utility(np.full(len(members), qi), members)
            top = np.argsort(-s, kind="stable")[:N_CAND]
            self.query_cand[qi, :len(top)] = members[top]
            self.query_cand_score[qi, :len(top)] = s[top]

    def _variants(self, rng: np.random.Generator, canon: set[str]) -> None:
        """Per query: canonical text, case/spacing variants (same normalised text) and typos."""
        norms_of_others = {normalize_query(t) for t in canon}
        texts, norms = [], []
        for t in self.query_text:
            tokens = t.split()
            case = [t.title(), t.upper(), "  " + t.replace(" ", "  ") + " ", t.replace(" ", "-")]
            typos = []
            for _ in range(4):
                j = int(rng.integers(len(tokens)))
                w = tokens[j]
                if len(w) < 4:
                    continue
                k = int(rng.integers(1, len(w) - 1))
                op = int(rng.integers(3))
                w2 = (w[:k] + w[k + 1:] if op == 0 else w[:k] + w[k] + w[k:] if op == 1
                      else w[:k - 1] + w[k] + w[k - 1] + w[k + 1:])
                typo = " ".join(tokens[:j] + [w2] + tokens[j + 1:])
                if typo != t and normalize_query(typo) not in norms_of_others and typo not in typos:
                    typos.append(typo)
            variants = [t, *case, *typos[:2]]
            texts.append(variants)
            norms.append([normalize_query(v) for v in variants])
        self.variant_text = texts
        self.variant_norm = norms

    # ------------------------------------------------------------------ utility
    def user_utility(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        dot = np.einsum("ij,ij->i", self.user_vec[users], self.item_vec[items]) / K
        return sigmoid(2.0 * dot + self.item_quality[items] - 1.0)

    def query_utility(self, queries: np.ndarray, items: np.ndarray) -> np.ndarray:
        dot = np.einsum("ij,ij->i", self.query_vec[queries], self.item_vec[items]) / K
        same_leaf = self.item_leaf[items] == self.query_leaf[queries]
        same_child = self.item_child[items] == self.leaf_child[self.query_leaf[queries]]
        qb, qa = self.query_brand_code[queries], self.query_adj_code[queries]
        brand = (qb >= 0) & (qb == self.item_brand_code[items])
        adj = (qa >= 0) & (qa == self.item_adj_code[items])
        raw = (1.5 * dot + self.item_quality[items] + 1.2 * same_leaf + 0.4 * same_child + 0.9 * brand
               + 0.6 * adj - 2.4)
        return sigmoid(raw)


@lru_cache(maxsize=2)
def get_world(p: WorldParams) -> World:
    """One world per parameter set per process (Spark python workers are reused)."""
    return World(p)
