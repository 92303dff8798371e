"""The chat screen's parts: each widget renders one thing and knows nothing of HTTP."""

from tui.widgets.dialogs import ConfirmDialog, RenameDialog
from tui.widgets.message_log import AssistantMessage, MessageLog, UserMessage
from tui.widgets.prompt import PromptInput
from tui.widgets.sidebar import ConversationList
from tui.widgets.sources import SourcesPanel, format_source
from tui.widgets.status_bar import StatusBar

__all__ = [
    "AssistantMessage",
    "ConfirmDialog",
    "ConversationList",
    "MessageLog",
    "PromptInput",
    "RenameDialog",
    "SourcesPanel",
    "StatusBar",
    "UserMessage",
    "format_source",
]
