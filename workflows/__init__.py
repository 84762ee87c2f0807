"""Deterministic Temporal workflow code. Never import asyncpg or anything doing I/O here."""
