"""The server's core: plain functions over a SQLAlchemy session, free of HTTP (import-linter)."""
