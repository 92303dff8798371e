"""Storage: the relational database (`db`, `models`), blobs, the cache and the vector index.

Each store is a Protocol with an embedded and a cluster implementation (docs/architecture.md,
"Embedded vs cluster"); nothing here imports a feature module (an import-linter contract).
"""
