"""The inperson server: organizer API, badge provisioning, meeting ingest, linking and exports.

FastAPI over SQLAlchemy 2 (SQLite by default). ``server.main.create_app`` builds the app.
"""
