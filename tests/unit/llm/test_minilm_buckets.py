"""Length buckets: every index once, batches bounded in size and in padding."""

from __future__ import annotations

from morgan.llm.minilm import _length_buckets


def test_buckets_cover_every_text_once_and_bound_padding() -> None:
    lengths = [256, 60, 58, 250, 30, 256, 12, 200, 61, 9, 9, 9]
    batches = _length_buckets(lengths, batch_size=2)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= 2
        short, long = min(lengths[i] for i in batch), max(lengths[i] for i in batch)
        assert long <= max(short * 1.25, short + 8)


def test_equal_lengths_fill_whole_batches() -> None:
    assert [len(b) for b in _length_buckets([10] * 70, batch_size=32)] == [32, 32, 6]
    assert _length_buckets([], batch_size=32) == []


def test_a_token_budget_keeps_runs_short() -> None:
    lengths = [256, 250, 240, 20, 20, 20, 20, 20, 20, 300]
    batches = _length_buckets(lengths, batch_size=32, max_tokens=512)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    for batch in batches:
        longest = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * longest <= 512
    assert [9] in batches  # a text over the budget still runs, alone
