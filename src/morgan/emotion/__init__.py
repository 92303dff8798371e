"""Emotion: detection, intensity, triggers, patterns over time, crisis signals, encryption.

Other modules use only the names exported here.
"""

from morgan.emotion.base import EmotionDetector, EmotionModelError, EmotionResult
from morgan.emotion.crisis import CrisisSignal, detect_crisis, safety_protocol_instructions
from morgan.emotion.crypto import (
    DecryptionError,
    EmotionCipher,
    EmotionCryptoError,
    UnknownKeyError,
    key_id_for,
    load_or_create_key,
)
from morgan.emotion.detector import EmbeddingHeadDetector
from morgan.emotion.factory import MODEL_ENV_VAR, build_detector
from morgan.emotion.labels import EKMAN_LABELS, GOEMOTIONS_LABELS
from morgan.emotion.onnx_detector import OnnxEmotionDetector
from morgan.emotion.patterns import (
    EmotionPattern,
    EmotionRecord,
    PatternWindow,
    detect_patterns,
    dominant_emotion,
    rising_frustration,
    time_of_day_stress,
)
from morgan.emotion.triggers import Trigger, extract_triggers, occlusion_triggers

__all__ = [
    "EKMAN_LABELS",
    "GOEMOTIONS_LABELS",
    "MODEL_ENV_VAR",
    "CrisisSignal",
    "DecryptionError",
    "EmbeddingHeadDetector",
    "EmotionCipher",
    "EmotionCryptoError",
    "EmotionDetector",
    "EmotionModelError",
    "EmotionPattern",
    "EmotionRecord",
    "EmotionResult",
    "OnnxEmotionDetector",
    "PatternWindow",
    "Trigger",
    "UnknownKeyError",
    "build_detector",
    "detect_crisis",
    "detect_patterns",
    "dominant_emotion",
    "extract_triggers",
    "key_id_for",
    "load_or_create_key",
    "occlusion_triggers",
    "rising_frustration",
    "safety_protocol_instructions",
    "time_of_day_stress",
]
