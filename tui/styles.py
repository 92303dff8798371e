"""The app's stylesheet, kept in Python so it ships with the package without package-data."""

APP_CSS = """
#body {
    height: 1fr;
}

#banner {
    height: auto;
    padding: 0 1;
    background: $warning 25%;
    color: $text;
    text-style: bold;
}

#sidebar {
    width: 30;
    height: 1fr;
    border: round $primary 50%;
    border-title-color: $text-accent;
}

#sidebar:focus-within {
    border: round $accent;
}

#search {
    border: none;
    height: 1;
    padding: 0 1;
    margin-bottom: 1;
    background: $boost;
}

#conversations {
    height: 1fr;
    border: none;
}

.-hide-sidebar #sidebar, .-hide-sources #sources {
    display: none;
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
    text-wrap: nowrap;
    text-overflow: ellipsis;
}

#snippet {
    height: 1fr;
    padding: 1 1 0 1;
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

AssistantMessage.safety {
    border: heavy $warning;
    border-title-style: bold;
}

UserMessage.-emotion-joy { border: round green; }
UserMessage.-emotion-surprise { border: round cyan; }
UserMessage.-emotion-sadness { border: round dodgerblue; }
UserMessage.-emotion-fear { border: round magenta; }
UserMessage.-emotion-anger { border: round red; }
UserMessage.-emotion-disgust { border: round darkorange; }

Evidence {
    margin: 0 8 0 2;
    padding: 0 1;
    border: round $success 30%;
    border-title-color: $text-muted;
    color: $text-muted;
}

Note {
    margin: 1 0 0 0;
    padding: 0 1;
    border: round $accent 50%;
    border-title-color: $text-accent;
}

ServerDownScreen {
    align: center middle;
}

#down-box {
    width: 76;
    max-width: 100%;
    height: auto;
    padding: 1 2;
    border: thick $error;
    background: $surface;
}

#down-title {
    text-style: bold;
    color: $text-error;
    margin-bottom: 1;
}

#down-hint {
    margin-top: 1;
    color: $text-muted;
}

#down-state {
    height: 1;
    color: $text-accent;
}

#down-box .buttons {
    height: auto;
    align-horizontal: right;
}

#down-box Button {
    margin-left: 1;
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
