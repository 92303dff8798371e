"""The narrow dependencies controllers declare (the litestar-fullstack pattern).

Each controller names only the services it uses (`dependencies = {"documents": ...}`);
these providers take them from the `Services` container the app's lifespan built, so
the container itself is seen only here and in `morgan.app` (the composition root). They
read `state.services` on every request: a test that swaps a part of the container sees
its swap, as before. Optional parts (emotion, learning, runtime settings) are provided as
`None` where the server runs without them; the handler answers 503 after authentication,
as before.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.datastructures import State
from litestar.di import Provide

from morgan.api.deps import get_services
from morgan.auth import AuthService
from morgan.chat.conversations import ConversationRepository
from morgan.chat.feedback import AnswerFeedback
from morgan.chat.pipeline import ChatPipeline
from morgan.chat.transcripts import Transcripts
from morgan.components import HealthReport
from morgan.emotion.base import EmotionDetector
from morgan.emotion.repository import EmotionRepository
from morgan.learning.repositories import PreferenceRepository
from morgan.learning.service import LearningService
from morgan.llm.base import LLM, Embedder
from morgan.rag.documents import DocumentRepository
from morgan.rag.ingest import IngestService
from morgan.rag.jobs import IngestJobs
from morgan.runtime_config import RuntimeConfigService
from morgan.runtime_config.debug import debug_report
from morgan.settings import Settings

DebugReport = Callable[[], Awaitable[dict[str, Any]]]


def _chat(state: State) -> ChatPipeline:
    return get_services(state).chat


def _conversations(state: State) -> ConversationRepository:
    return get_services(state).conversations


def _transcripts(state: State) -> Transcripts:
    services = get_services(state)
    return Transcripts(services.conversations, services.cache)


def _llm(state: State) -> LLM:
    return get_services(state).llm


def _documents(state: State) -> DocumentRepository:
    return get_services(state).documents


def _ingest(state: State) -> IngestService:
    return get_services(state).ingest


def _ingest_jobs(state: State) -> IngestJobs:
    return IngestJobs(get_services(state))


def _embedder(state: State) -> Embedder:
    return get_services(state).embedder


def _emotion_detector(state: State) -> EmotionDetector | None:
    return get_services(state).emotion_detector


def _emotion_repository(state: State) -> EmotionRepository | None:
    return get_services(state).emotion_repository


def _learning(state: State) -> LearningService | None:
    return get_services(state).learning


def _feedback(state: State) -> AnswerFeedback | None:
    return get_services(state).feedback


def _preferences(state: State) -> PreferenceRepository | None:
    repos = get_services(state).learning_repos
    return None if repos is None else repos.preferences


def _runtime_config(state: State) -> RuntimeConfigService | None:
    return get_services(state).runtime_config


def _health(state: State) -> HealthReport:
    return get_services(state)


def _settings(state: State) -> Settings:
    return get_services(state).settings


def _auth(state: State) -> AuthService:
    return get_services(state).auth


def _debug_report(state: State) -> DebugReport:
    return functools.partial(debug_report, get_services(state))


def _provide(fn: Callable[[State], Any]) -> Provide:
    return Provide(fn, sync_to_thread=False)


chat = _provide(_chat)
conversations = _provide(_conversations)
transcripts = _provide(_transcripts)
llm = _provide(_llm)
documents = _provide(_documents)
ingest = _provide(_ingest)
ingest_jobs = _provide(_ingest_jobs)
embedder = _provide(_embedder)
emotion_detector = _provide(_emotion_detector)
emotion_repository = _provide(_emotion_repository)
learning = _provide(_learning)
feedback = _provide(_feedback)
preferences = _provide(_preferences)
runtime_config = _provide(_runtime_config)
health = _provide(_health)
settings = _provide(_settings)
auth = _provide(_auth)
debug = _provide(_debug_report)
