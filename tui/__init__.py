"""`morgan chat`: a Textual chat client that talks to a Morgan server over its HTTP API.

Nothing is imported here: `morgan` mounts `tui.cli` on every invocation, and Textual should
load only when the chat actually starts.
"""
