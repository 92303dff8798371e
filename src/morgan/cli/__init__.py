"""The `morgan` command line."""
