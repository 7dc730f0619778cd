"""Success envelope helpers."""

from __future__ import annotations

from typing import Any

from ringrift.server.db.models import User


def ok(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data}


def user_json(user: User, *, private: bool) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": user.id,
        "username": user.username,
        "rating": round(user.rating, 2),
        "ratedGames": user.rated_games,
        "gamesPlayed": user.games_played,
        "wins": user.wins,
        "losses": user.losses,
        "draws": user.draws,
        "createdAt": user.created_at.isoformat(),
    }
    if private:
        data["email"] = user.email
        data["lastLoginAt"] = user.last_login_at.isoformat() if user.last_login_at else None
        data["emailVerified"] = user.email_verified_at is not None
        data["role"] = str(user.role)
    return data
