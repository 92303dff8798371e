"""The app's stylesheet, kept in Python so it ships with the package without package-data."""

APP_CSS = """
#body {
    height: 1fr;
}

#sidebar {
    width: 30;
    height: 1fr;
    border: round $primary 50%;
    border-title-color: $text-accent;
}

#sidebar:focus {
    border: round $accent;
}

#main {
    width: 1fr;
}

#log {
    height: 1fr;
    padding: 0 1;
    border: round $primary 50%;
}

#prompt {
    height: auto;
    min-height: 3;
    max-height: 10;
    border: round $primary 50%;
    border-title-color: $text-muted;
}

#prompt:focus {
    border: round $accent;
}

#sources {
    width: 38;
    border: round $primary 50%;
    border-title-color: $text-accent;
}

#source-list {
    height: auto;
    max-height: 50%;
    border: none;
}

#snippet {
    height: 1fr;
    padding: 1 1 0 1;
    color: $text-muted;
    overflow-y: auto;
}

UserMessage {
    margin: 1 0 0 8;
    padding: 0 1;
    border: round $secondary;
    border-title-align: right;
    background: $boost;
}

AssistantMessage {
    margin: 1 8 0 0;
    padding: 0 1;
    border: round $success 60%;
    border-subtitle-color: $text-muted;
}

AssistantMessage > *:last-child {
    margin-bottom: 0;
}

AssistantMessage.cancelled {
    border: round $warning;
}

AssistantMessage.failed {
    border: round $error;
}

#status {
    height: 1;
    padding: 0 1;
    background: $panel;
}

ConfirmDialog, RenameDialog {
    align: center middle;
}

.dialog {
    width: 60;
    height: auto;
    padding: 1 2;
    border: thick $accent;
    background: $surface;
}

.dialog Label {
    width: 100%;
}

.dialog .buttons {
    height: auto;
    margin-top: 1;
    align-horizontal: right;
}

.dialog Button {
    margin-left: 1;
}
"""
