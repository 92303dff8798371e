"""Cross-encoder reranking: the interface the chat pipeline uses and its implementations.

`create_reranker` picks one from settings; `service.create_reranker_app` and
`cli.reranker_group` are the separate reranker service (imported lazily, they pull in
Litestar and uvicorn).
"""

from morgan.reranker.base import (
    MAX_PASSAGES,
    InvalidRerankRequest,
    Reranker,
    RerankerDisabled,
    RerankerError,
    RerankerModelError,
    RerankerUnavailable,
    rank_order,
    validate_rerank_request,
)
from morgan.reranker.disabled import DisabledReranker
from morgan.reranker.factory import create_reranker
from morgan.reranker.http_client import HttpReranker
from morgan.reranker.in_process import InProcessReranker
from morgan.reranker.onnx_cross_encoder import OnnxCrossEncoder

__all__ = [
    "MAX_PASSAGES",
    "DisabledReranker",
    "HttpReranker",
    "InProcessReranker",
    "InvalidRerankRequest",
    "OnnxCrossEncoder",
    "Reranker",
    "RerankerDisabled",
    "RerankerError",
    "RerankerModelError",
    "RerankerUnavailable",
    "create_reranker",
    "rank_order",
    "validate_rerank_request",
]
