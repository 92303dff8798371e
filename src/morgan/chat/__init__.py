"""Chat: the orchestrator (`pipeline.ChatPipeline`), conversations, and the API's shapes.

The pipeline depends on the other modules only through the ports in `chat.ports` and the
Protocols in `llm.base`, so every backend runs the same chat path.
"""
