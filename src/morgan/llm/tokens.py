"""Token estimates for backends without a local tokenizer.

About four characters per token holds for English with BPE/SentencePiece vocabularies; the
prompt budget adds its own safety margin for text that tokenises worse (code, other scripts).
"""

from __future__ import annotations

import math

CHARS_PER_TOKEN = 4.0


def estimate_tokens(text: str) -> int:
    if not text:
        return 0
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))
