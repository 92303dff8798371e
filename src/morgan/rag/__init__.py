"""RAG: extraction, chunking, ingestion jobs, hybrid retrieval with section-level fusion.

`ingest` turns files into chunks and vectors; `retrieval.Retriever` answers a question with
passages; the chat pipeline composes them (docs/architecture.md, "Chat path").
"""
