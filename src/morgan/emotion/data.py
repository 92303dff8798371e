"""Reading GoEmotions-format TSV files (text, comma-separated label ids, comment id)."""

from __future__ import annotations

import csv
from pathlib import Path

import msgspec

from morgan.emotion.labels import GOEMOTIONS_LABELS


class Example(msgspec.Struct, frozen=True):
    text: str
    labels: tuple[int, ...]
    id: str = ""


def read_goemotions_tsv(path: Path | str) -> list[Example]:
    """Rows as examples; quotes are CSV-style, so a csv reader (not split) is required."""
    examples: list[Example] = []
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if not row:
                continue
            ids = tuple(int(x) for x in row[1].split(",") if x.strip()) if len(row) > 1 else ()
            for label_id in ids:
                if not 0 <= label_id < len(GOEMOTIONS_LABELS):
                    raise ValueError(f"{path}: label id {label_id} out of range in row {row!r}")
            examples.append(Example(row[0], ids, row[2] if len(row) > 2 else ""))
    return examples


def label_matrix(examples: list[Example]):  # -> numpy array (n, 28) of 0/1
    import numpy as np

    y = np.zeros((len(examples), len(GOEMOTIONS_LABELS)), dtype=np.int8)
    for i, example in enumerate(examples):
        y[i, list(example.labels)] = 1
    return y
