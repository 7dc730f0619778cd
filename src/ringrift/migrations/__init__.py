"""Alembic migrations shipped inside the package (run them with ``ringrift db upgrade``)."""
