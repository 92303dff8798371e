"""Thin HTTP controllers: parse, authenticate, call a module, shape the answer. No logic."""
