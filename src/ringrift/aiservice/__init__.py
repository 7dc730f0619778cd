"""``ringrift.aiservice``: the AI move service (FastAPI), started with ``ringrift ai serve``."""

from ringrift.aiservice.app import create_app

__all__ = ["create_app"]
