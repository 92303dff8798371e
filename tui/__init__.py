"""`morgan chat`: a Textual chat client that talks to a Morgan server over its HTTP API."""

from tui.app import MorganChatApp

__all__ = ["MorganChatApp"]
