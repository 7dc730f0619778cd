"""``ringrift.aiservice``: the AI move service (FastAPI), started with ``ringrift ai serve``."""
