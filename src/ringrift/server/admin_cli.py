"""``ringrift admin``: roles, bans, chat mutes, chat removal and reports straight on the
database (for the first admin, and for operators without an admin session). Registered by
``ringrift.server.cli``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from ringrift.server.db.vocab import ReportStatus, UserRole

admin_app = typer.Typer(
    help="Moderation: roles, bans, chat mutes and removals, reports.", no_args_is_help=True
)

T = TypeVar("T")

DatabaseUrl = Annotated[str, typer.Option("--database-url", help="Defaults to DATABASE_URL.")]
UserRef = Annotated[str, typer.Argument(help="User id, email or username.")]


def _run(database_url: str, work: Callable[..., Awaitable[T]]) -> T:
    from ringrift.server.config import Settings
    from ringrift.server.db.session import Database
    from ringrift.server.errors import ApiError

    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})

    async def main() -> T:
        db = Database(settings)
        try:
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except ApiError as error:
        typer.secho(f"{error.code}: {error.message}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from error
    except Exception as error:
        typer.secho(f"failed: {type(error).__name__}: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from error


@admin_app.command("grant-role")
def grant_role(
    user: UserRef,
    role: Annotated[UserRole, typer.Argument(help="player takes every role away.")],
    database_url: DatabaseUrl = "",
) -> None:
    """Give a user the role admin, moderator or player."""
    from ringrift.server.services import moderation

    async def work(db: moderation.Database) -> str:
        target = await moderation.find_user(db, user)
        changed = await moderation.set_role(db, target.id, role)
        return f"{changed.username} ({changed.id}) is now {changed.role.value}"

    typer.echo(_run(database_url, work))


@admin_app.command("ban")
def ban(
    user: UserRef,
    reason: Annotated[str, typer.Option(help="Why (kept with the ban).")] = "banned by an operator",
    database_url: DatabaseUrl = "",
) -> None:
    """Ban a user: every session ends at once and login is refused."""
    from ringrift.server.services import moderation

    async def work(db: moderation.Database) -> str:
        target = await moderation.find_user(db, user)
        banned = await moderation.ban(db, target.id, reason.strip()[:500])
        return f"{banned.username} ({banned.id}) is banned: {banned.ban_reason}"

    typer.echo(_run(database_url, work))


@admin_app.command("unban")
def unban(user: UserRef, database_url: DatabaseUrl = "") -> None:
    """Lift a ban."""
    from ringrift.server.services import moderation

    async def work(db: moderation.Database) -> str:
        target = await moderation.find_user(db, user)
        lifted = await moderation.unban(db, target.id)
        return f"{lifted.username} ({lifted.id}) is no longer banned"

    typer.echo(_run(database_url, work))


@admin_app.command("list-reports")
def list_reports(
    status: Annotated[ReportStatus | None, typer.Option(help="Only this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    database_url: DatabaseUrl = "",
) -> None:
    """Reports filed by players, newest first."""
    from ringrift.server.services import moderation

    async def work(db: moderation.Database) -> list[moderation.ReportView]:
        views, _total = await moderation.list_reports(db, status, limit, 0)
        return views

    views = _run(database_url, work)
    if not views:
        typer.echo("no reports")
    for view in views:
        typer.echo(
            f"{view.created_at:%Y-%m-%d %H:%M} {view.status.value:6} {view.id} "
            f"{view.reporter_username or '(deleted)'} -> {view.username} ({view.user_id}): "
            f"{view.reason}"
        )
        message = view.chat_message
        if message is not None:
            state = " [removed]" if message.removed_at is not None else ""
            text = message.body if message.body is not None else "(text deleted with the account)"
            typer.echo(f"    chat message {message.id}{state}: {text!r}")


@admin_app.command("mute")
def mute(
    user: UserRef,
    minutes: Annotated[int, typer.Option(min=0, max=30 * 24 * 60, help="0 lifts a mute.")] = 60,
    database_url: DatabaseUrl = "",
) -> None:
    """Keep a user from posting chat messages for a while."""
    from ringrift.server.services import moderation

    async def work(db: moderation.Database) -> str:
        target = await moderation.find_user(db, user)
        muted = await moderation.mute(db, target.id, minutes)
        until = muted.chat_muted_until
        return f"{muted.username} ({muted.id}) " + (
            f"is muted until {until.isoformat()}" if until else "is no longer muted"
        )

    typer.echo(_run(database_url, work))


@admin_app.command("remove-chat")
def remove_chat(
    message_id: Annotated[str, typer.Argument(help="Chat message id (from list-reports).")],
    by: Annotated[str, typer.Option(help="Moderator user id, email or username.")] = "",
    redis_url: Annotated[str, typer.Option(help="Defaults to REDIS_URL.")] = "",
    database_url: DatabaseUrl = "",
) -> None:
    """Remove a chat message; open sockets see "removed by a moderator" (through Redis, or at
    their next catch-up when Redis is unavailable)."""
    from ringrift.server.config import Settings
    from ringrift.server.redis import ResilientRedis
    from ringrift.server.security.keyring import Keyring
    from ringrift.server.services import chat, moderation

    settings = Settings()

    async def work(db: moderation.Database) -> str:
        moderator = await moderation.find_user(db, by) if by else None
        event = await chat.remove(db, message_id, moderator.id if moderator else None)
        keyring = Keyring(
            keyring_file=settings.jwt_keyring_file,
            jwt_secret=settings.jwt_secret,
            refresh_secret=settings.jwt_refresh_secret,
            production=settings.is_production,
        )
        redis = ResilientRedis(
            redis_url or settings.redis_url,
            settings.redis_timeout_seconds,
            sentinel=None if redis_url else settings.redis_sentinel,
        )
        try:
            sent = await chat.publish_direct(redis, keyring, event)
        finally:
            await redis.close()
        where = "sent to open sockets" if sent else "not sent (Redis unavailable)"
        return f"chat message {message_id} in game {event.game_id} is removed; {where}"

    typer.echo(_run(database_url, work))


@admin_app.command("close-report")
def close_report(
    report_id: Annotated[str, typer.Argument(help="Report id (from list-reports).")],
    database_url: DatabaseUrl = "",
) -> None:
    """Mark a report handled."""
    from ringrift.server.services import moderation

    async def work(db: moderation.Database) -> str:
        view = await moderation.close_report(db, report_id)
        return f"report {view.id} about {view.username} is {view.status.value}"

    typer.echo(_run(database_url, work))
