"""Multi-label metrics and per-label threshold tuning shared by training and evaluation."""

from __future__ import annotations

from typing import Any

import numpy as np

from morgan.emotion.labels import EKMAN_LABELS, EKMAN_OF, GOEMOTIONS_LABELS

THRESHOLD_GRID = np.round(np.arange(0.02, 0.96, 0.01), 2)


def decide(probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """0/1 predictions: labels over their thresholds, or the top label when none is."""
    predicted = (probs >= thresholds[None, :]).astype(np.int8)
    empty = predicted.sum(axis=1) == 0
    predicted[empty, probs[empty].argmax(axis=1)] = 1
    return predicted


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def tune_thresholds(probs: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Per label, the grid threshold with the best F1 for that label alone."""
    best = np.full(probs.shape[1], 0.5)
    for j in range(probs.shape[1]):
        p, y = probs[:, j][:, None], gold[:, j][:, None].astype(bool)
        pred = p >= THRESHOLD_GRID[None, :]
        tp = (pred & y).sum(0)
        fp = (pred & ~y).sum(0)
        fn = (~pred & y).sum(0)
        scores = _f1(tp, fp, fn)
        best[j] = THRESHOLD_GRID[int(scores.argmax())]
    return best


def to_ekman(matrix: np.ndarray) -> np.ndarray:
    out = np.zeros((matrix.shape[0], len(EKMAN_LABELS)), dtype=np.int8)
    for j, label in enumerate(GOEMOTIONS_LABELS):
        out[:, EKMAN_LABELS.index(EKMAN_OF[label])] |= matrix[:, j].astype(np.int8)
    return out


def f1_scores(predicted: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-column F1 and micro F1."""
    predicted, gold = predicted.astype(bool), gold.astype(bool)
    tp = (predicted & gold).sum(0)
    fp = (predicted & ~gold).sum(0)
    fn = (~predicted & gold).sum(0)
    micro = float(_f1(np.array(tp.sum()), np.array(fp.sum()), np.array(fn.sum())))
    return _f1(tp, fp, fn), micro


def report(predicted: np.ndarray, gold: np.ndarray) -> dict[str, Any]:
    per_label, micro = f1_scores(predicted, gold)
    ekman, _ = f1_scores(to_ekman(predicted), to_ekman(gold))
    return {
        "macro_f1": float(per_label.mean()),
        "micro_f1": micro,
        "ekman_macro_f1": float(ekman.mean()),
        "per_label_f1": {
            l: round(float(f), 4) for l, f in zip(GOEMOTIONS_LABELS, per_label, strict=False)
        },
        "per_ekman_f1": {l: round(float(f), 4) for l, f in zip(EKMAN_LABELS, ekman, strict=False)},
    }


def cross_fitted_macro_f1(probs: np.ndarray, gold: np.ndarray, seed: int = 0) -> float:
    """Macro-F1 with thresholds tuned on one half of the data and scored on the other.

    Tuning and scoring on the same split flatters the score; this is the honest estimate.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(probs))
    halves = (order[: len(order) // 2], order[len(order) // 2 :])
    predicted = np.zeros_like(gold)
    for tune, score in (halves, halves[::-1]):
        thresholds = tune_thresholds(probs[tune], gold[tune])
        predicted[score] = decide(probs[score], thresholds)
    return float(f1_scores(predicted, gold)[0].mean())
