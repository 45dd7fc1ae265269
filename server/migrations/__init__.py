"""Alembic migrations of the server's database (``server.db.Database.start`` runs them)."""
