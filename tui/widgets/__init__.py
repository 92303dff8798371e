"""The chat screen's parts: each widget renders one thing and knows nothing of HTTP."""

from tui.widgets.banner import DegradedBanner, banner_text
from tui.widgets.dialogs import ConfirmDialog, RenameDialog
from tui.widgets.message_log import (
    AssistantMessage,
    Evidence,
    MessageLog,
    Note,
    UserMessage,
    describe_emotion,
    evidence_text,
)
from tui.widgets.prompt import PromptInput
from tui.widgets.server_down import ServerDownScreen
from tui.widgets.sidebar import ConversationList, ConversationPanel
from tui.widgets.sources import SourcesPanel, describe_source, format_source
from tui.widgets.status_bar import StatusBar

__all__ = [
    "AssistantMessage",
    "ConfirmDialog",
    "ConversationList",
    "ConversationPanel",
    "DegradedBanner",
    "Evidence",
    "MessageLog",
    "Note",
    "PromptInput",
    "RenameDialog",
    "ServerDownScreen",
    "SourcesPanel",
    "StatusBar",
    "UserMessage",
    "banner_text",
    "describe_emotion",
    "describe_source",
    "evidence_text",
    "format_source",
]
