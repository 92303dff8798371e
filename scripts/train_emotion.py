#!/usr/bin/env python
"""Train Morgan's emotion head on GoEmotions and write the shipped artifact.

    python scripts/train_emotion.py --train train.tsv --dev dev.tsv \
        [--out src/morgan/emotion/artifacts] [--compare] [--json results.json]

Features are cached per input file (MiniLM embeddings take minutes on CPU). With `--compare`
it also trains and scores the alternative heads that docs/emotion.md compares. Everything is
seeded; two runs on the same machine produce the same artifact.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from morgan.emotion.data import label_matrix, read_goemotions_tsv
from morgan.emotion.head import DEFAULT_ARTIFACT_DIR
from morgan.emotion.labels import GOEMOTIONS_LABELS
from morgan.emotion.metrics import (
    cross_fitted_macro_f1,
    decide,
    report,
    tune_thresholds,
)

SEED = 13


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def cached(cache_dir: Path, key: str, compute) -> np.ndarray:
    path = cache_dir / f"{key}.npy"
    if path.exists():
        return np.load(path)
    value = compute()
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, value)
    return value


def minilm_features(texts: list[str], batch: int = 128) -> np.ndarray:
    from morgan.llm.minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    embedder.warm_up()
    order = np.argsort([len(t) for t in texts])  # length-sorted batches pad less
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for start in range(0, len(texts), batch):
        idx = order[start : start + batch]
        out[idx] = embedder.embed_array([texts[i] for i in idx])
    return out


def emoji_features(texts: list[str]) -> np.ndarray:
    from morgan.emotion.emoji_features import EmojiFeaturizer

    return EmojiFeaturizer().features(texts)


def load_split(path: Path, cache_dir: Path) -> dict[str, Any]:
    examples = read_goemotions_tsv(path)
    texts = [e.text for e in examples]
    digest = file_digest(path)
    return {
        "texts": texts,
        "y": label_matrix(examples),
        "minilm": cached(cache_dir, f"minilm-{digest}", lambda: minilm_features(texts)),
        "emoji": cached(cache_dir, f"emoji-{digest}", lambda: emoji_features(texts)),
    }


def assemble(split: dict[str, Any], inputs: list[str]) -> np.ndarray:
    blocks = [np.sqrt(split[n]) if n == "emoji" else split[n] for n in inputs]
    return np.concatenate(blocks, axis=1).astype(np.float32)


# --- torch heads ---------------------------------------------------------------------------


def train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    hidden: int,
    seed: int,
    epochs: int = 40,
    patience: int = 5,
    dropout: float = 0.3,
) -> tuple[dict[str, np.ndarray], int]:
    """One member; early-stopped on held-out train rows (never on dev). hidden=0: linear."""
    import torch
    from torch import nn

    seed_everything(seed)
    dim, out = x.shape[1], y.shape[1]
    if hidden:
        model = nn.Sequential(
            nn.Dropout(0.1),
            nn.Linear(dim, hidden),
            nn.GELU(approximate="tanh"),
            nn.Dropout(dropout),
            nn.Linear(hidden, out),
        )
    else:
        model = nn.Sequential(nn.Linear(dim, out))
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = nn.BCEWithLogitsLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    xv = torch.from_numpy(x_val)
    generator = torch.Generator().manual_seed(seed)
    best_score, best_state, best_epoch, waited = -1.0, None, 0, 0
    for epoch in range(epochs):
        model.train()
        for idx in torch.randperm(len(xt), generator=generator).split(256):
            optimiser.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            probs = torch.sigmoid(model(xv)).numpy()
        score = float(report(decide(probs, tune_thresholds(probs, y_val)), y_val)["macro_f1"])
        if score > best_score:
            best_score, best_epoch, waited = score, epoch + 1, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= patience:
                break
    model.load_state_dict(best_state)
    layers = [m for m in model if isinstance(m, nn.Linear)]
    weights = {}
    if hidden:
        weights = {
            "w1": layers[0].weight.T,
            "b1": layers[0].bias,
            "w2": layers[1].weight.T,
            "b2": layers[1].bias,
        }
    else:
        weights = {"w": layers[0].weight.T, "b": layers[0].bias}
    return {k: v.detach().numpy().astype(np.float32) for k, v in weights.items()}, best_epoch


def forward(weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    from morgan.emotion.head import gelu_tanh, sigmoid

    if "w" in weights:
        return sigmoid(x @ weights["w"] + weights["b"])
    return sigmoid(gelu_tanh(x @ weights["w1"] + weights["b1"]) @ weights["w2"] + weights["b2"])


def fit_head(train, dev, inputs, hidden, members, seed) -> dict[str, Any]:
    x_all = assemble(train, inputs)
    mean, std = x_all.mean(0), x_all.std(0) + 1e-6
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x_all))
    val, fit = order[: len(order) // 10], order[len(order) // 10 :]
    xs = (x_all - mean) / std
    x_dev = (assemble(dev, inputs) - mean) / std
    started = time.perf_counter()
    trained, epochs = [], []
    for m in range(members):
        weights, epoch = train_mlp(
            xs[fit], train["y"][fit], xs[val], train["y"][val], hidden, seed + m
        )
        trained.append(weights)
        epochs.append(epoch)
    seconds = time.perf_counter() - started
    dev_probs = np.mean([forward(w, x_dev) for w in trained], axis=0)
    return {
        "members": trained,
        "mean": mean,
        "std": std,
        "dev_probs": dev_probs,
        "train_seconds": seconds,
        "epochs": epochs,
    }


def fit_tfidf(train, dev, max_features: int = 20000, c: float = 4.0) -> dict[str, Any]:
    """TF-IDF uni+bigrams + one-vs-rest logistic regression (sklearn at training time only)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    from morgan.emotion.head import sigmoid
    from morgan.emotion.tfidf import TfidfLogistic

    started = time.perf_counter()
    vectoriser = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=max_features
    )
    x = vectoriser.fit_transform(train["texts"])
    model = OneVsRestClassifier(LogisticRegression(C=c, max_iter=1000), n_jobs=1)
    model.fit(x, train["y"])
    seconds = time.perf_counter() - started
    vocabulary = [str(t) for t in vectoriser.get_feature_names_out()]
    coef = np.stack([e.coef_[0] for e in model.estimators_], axis=1)
    intercept = np.array([e.intercept_[0] for e in model.estimators_])
    arrays = {
        "vocabulary": np.array("\n".join(vocabulary)),
        "idf": vectoriser.idf_.astype(np.float16),
        "coef": coef.astype(np.float16),
        "intercept": intercept.astype(np.float32),
    }
    # The shipped numpy re-implementation must agree with sklearn, fp16 rounding aside.
    runtime = TfidfLogistic(vocabulary, arrays["idf"], arrays["coef"], arrays["intercept"])
    dev_probs = sigmoid(runtime.logits(dev["texts"]))
    reference = model.predict_proba(vectoriser.transform(dev["texts"]))
    gap = float(np.abs(dev_probs - reference).max())
    if gap > 0.02:
        raise RuntimeError(f"numpy TF-IDF disagrees with sklearn by {gap:.4f}")
    return {"arrays": arrays, "dev_probs": dev_probs, "train_seconds": seconds, "gap": gap}


def build_cue_lexicon(texts: list[str], y: np.ndarray, per_label: int = 40) -> dict[str, dict]:
    """Per label, the unigrams/bigrams most over-represented in its messages.

    Log-odds ratio with an informative Dirichlet prior (Monroe et al. 2008), z-scored;
    weights are z / max z within the label.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    from morgan.emotion.triggers import STOPWORDS, TOKEN

    vectoriser = CountVectorizer(
        ngram_range=(1, 2), min_df=5, binary=True, lowercase=True, token_pattern=TOKEN.pattern
    )
    counts = vectoriser.fit_transform(texts).tocsc()
    vocab = vectoriser.get_feature_names_out()
    keep = np.array(
        [
            any(w not in STOPWORDS and len(w) >= 3 and w.isalpha() for w in phrase.split())
            for phrase in vocab
        ]
    )
    total = np.asarray(counts.sum(axis=0)).ravel().astype(np.float64)
    alpha = 500.0 * total / total.sum()
    alpha0 = alpha.sum()
    cues: dict[str, dict] = {}
    for j, label in enumerate(GOEMOTIONS_LABELS):
        if label == "neutral":
            continue
        rows = y[:, j].astype(bool)
        in_label = np.asarray(counts[rows].sum(axis=0)).ravel().astype(np.float64)
        rest = total - in_label
        n_in, n_rest = in_label.sum(), rest.sum()
        delta = np.log((in_label + alpha) / (n_in + alpha0 - in_label - alpha)) - np.log(
            (rest + alpha) / (n_rest + alpha0 - rest - alpha)
        )
        z = delta / np.sqrt(1.0 / (in_label + alpha) + 1.0 / (rest + alpha))
        precision = in_label / np.maximum(total, 1)  # P(label | phrase)
        z[~keep | (in_label < 5) | (precision < 0.15)] = -np.inf
        best = np.argsort(-z)[:per_label]
        best = best[z[best] > 3.0]
        if best.size:
            top = z[best[0]]
            cues[label] = {str(vocab[i]): round(float(z[i] / top), 3) for i in best}
    return cues


def head_latency_ms(head_members, mean, std, dim: int, runs: int = 2000) -> float:
    """Median single-message latency of the numpy head (features already computed)."""
    x = np.random.default_rng(0).normal(size=(1, dim)).astype(np.float32)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        z = (x - mean) / std
        np.mean([forward(w, z) for w in head_members], axis=0)
        times.append(time.perf_counter() - began)
    return float(np.median(times) * 1000)


def score_row(name: str, probs: np.ndarray, y: np.ndarray, **extra: Any) -> dict[str, Any]:
    thresholds = tune_thresholds(probs, y)
    metrics = report(decide(probs, thresholds), y)
    return {
        "model": name,
        "macro_f1": round(metrics["macro_f1"], 4),
        "macro_f1_crossfit": round(cross_fitted_macro_f1(probs, y), 4),
        "ekman_macro_f1": round(metrics["ekman_macro_f1"], 4),
        "micro_f1": round(metrics["micro_f1"], 4),
        **extra,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    for row in rows[1:]:
        columns += [c for c in row if c not in columns]
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print(" | ".join(c.ljust(widths[c]) for c in columns))
    print("-+-".join("-" * widths[c] for c in columns))
    for row in rows:
        print(" | ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--train", type=Path, required=True)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=DEFAULT_ARTIFACT_DIR)
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache" / "morgan-emotion")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("emotion_train_results.json"),
        help="results file (kept out of the shipped artifact)",
    )
    parser.add_argument("--compare", action="store_true", help="also train the alternative heads")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--tfidf-weight", type=float, default=0.6, help="blend weight of TF-IDF")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.perf_counter()
    train, dev = load_split(args.train, args.cache_dir), load_split(args.dev, args.cache_dir)
    print(
        f"features ready in {time.perf_counter() - started:.0f}s "
        f"(train {len(train['texts'])}, dev {len(dev['texts'])})",
        flush=True,
    )

    rows: list[dict[str, Any]] = []
    tfidf = fit_tfidf(train, dev)
    rows.append(
        score_row(
            "tfidf uni+bigram (20k) + logistic regression",
            tfidf["dev_probs"],
            dev["y"],
            train_s=round(tfidf["train_seconds"]),
        )
    )
    print_table(rows[-1:])
    if args.compare:
        candidates = [
            ("linear on minilm", ["minilm"], 0, 1),
            ("linear on minilm+emoji", ["minilm", "emoji"], 0, 1),
            ("mlp512 on minilm", ["minilm"], 512, 1),
            ("mlp512 on emoji", ["emoji"], 512, 1),
            ("mlp512 on minilm+emoji", ["minilm", "emoji"], 512, 1),
        ]
        for name, inputs, hidden, members in candidates:
            fitted = fit_head(train, dev, inputs, hidden, members, args.seed)
            latency = head_latency_ms(
                fitted["members"], fitted["mean"], fitted["std"], len(fitted["mean"])
            )
            rows.append(
                score_row(
                    name,
                    fitted["dev_probs"],
                    dev["y"],
                    head_ms=round(latency, 3),
                    train_s=round(fitted["train_seconds"]),
                    epochs=fitted["epochs"],
                )
            )
            print_table(rows[-1:])

    inputs = ["minilm", "emoji"]
    final = fit_head(train, dev, inputs, args.hidden, args.members, args.seed)
    latency = head_latency_ms(final["members"], final["mean"], final["std"], len(final["mean"]))
    mlp_name = f"mlp{args.hidden} x{args.members} on minilm+emoji"
    rows.append(
        score_row(
            mlp_name,
            final["dev_probs"],
            dev["y"],
            head_ms=round(latency, 3),
            train_s=round(final["train_seconds"]),
            epochs=final["epochs"],
        )
    )
    blend = {"mlp": round(1.0 - args.tfidf_weight, 3), "tfidf": args.tfidf_weight}
    blended = blend["mlp"] * final["dev_probs"] + blend["tfidf"] * tfidf["dev_probs"]
    name = f"{blend['tfidf']} tfidf + {blend['mlp']} {mlp_name} (shipped)"
    rows.append(
        score_row(
            name, blended, dev["y"], train_s=round(final["train_seconds"] + tfidf["train_seconds"])
        )
    )
    thresholds = tune_thresholds(blended, dev["y"])
    dev_metrics = report(decide(blended, thresholds), dev["y"])

    args.out.mkdir(parents=True, exist_ok=True)
    arrays = {
        "input_mean": final["mean"].astype(np.float16),
        "input_std": final["std"].astype(np.float16),
    }
    for i, member in enumerate(final["members"]):
        for key, value in member.items():
            arrays[f"m{i}_{key}"] = value.astype(np.float16)
    np.savez_compressed(args.out / "weights.npz", **arrays)
    np.savez_compressed(args.out / "tfidf.npz", **tfidf["arrays"])
    (args.out / "thresholds.json").write_text(
        json.dumps(
            {l: float(t) for l, t in zip(GOEMOTIONS_LABELS, thresholds, strict=False)}, indent=1
        )
        + "\n"
    )
    meta = {
        "format": 1,
        "model": name,
        "labels": list(GOEMOTIONS_LABELS),
        "inputs": inputs,
        "embedding_model": "sentence-transformers/all-MiniLM-L6-v2 (mean pooling, L2-normalised)",
        "embedding_dimension": 384,
        "emoji_model": "nade socialmedia_en nade_250k_hp.ftz (151 emojis, sqrt)",
        "blend": blend,
        "tfidf": {
            "ngram_range": [1, 2],
            "max_features": 20000,
            "min_df": 2,
            "C": 4.0,
            "sublinear_tf": True,
            "max_abs_gap_vs_sklearn": round(tfidf["gap"], 5),
        },
        "hidden": args.hidden,
        "members": args.members,
        "seed": args.seed,
        "epochs": final["epochs"],
        "train_file_sha256_16": file_digest(args.train),
        "dev_file_sha256_16": file_digest(args.dev),
        "thresholds_tuned_on": "dev",
        "dev_macro_f1": round(dev_metrics["macro_f1"], 4),
        "dev_macro_f1_crossfit": rows[-1]["macro_f1_crossfit"],
        "dev_ekman_macro_f1": round(dev_metrics["ekman_macro_f1"], 4),
        "dev_micro_f1": round(dev_metrics["micro_f1"], 4),
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    cues = build_cue_lexicon(train["texts"], train["y"])
    (args.out / "cues.json").write_text(json.dumps(cues, indent=0, sort_keys=True) + "\n")

    print()
    print_table(rows)
    size = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"\nartifact: {args.out} ({size / 1e6:.2f} MB)")
    results = {"rows": rows, "dev": dev_metrics, "meta": meta, "artifact_bytes": size}
    args.json.write_text(json.dumps(results, indent=1) + "\n")
    print(f"results: {args.json}")


if __name__ == "__main__":
    main()
