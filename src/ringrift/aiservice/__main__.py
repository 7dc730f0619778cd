"""``python -m ringrift.aiservice serve --port 8001`` (same as ``ringrift ai serve``)."""

from ringrift.aiservice.cli import ai_app

if __name__ == "__main__":
    ai_app(prog_name="ringrift ai")
