"""SQLAlchemy 2 typed models. The schema itself is owned by the Alembic migrations in
``ringrift.migrations``; these classes must stay in step with them (a test compares both)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from ringrift.server.db.vocab import (
    AccountTokenPurpose,
    ChatChannel,
    RematchStatus,
    ReportStatus,
    UserRole,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _enum_column(enum: type[StrEnum], name: str) -> Enum:
    # A VARCHAR holding the values (no native database enum, no CHECK constraint), so adding a
    # value later needs no migration of the type.
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    username: Mapped[str] = mapped_column(String(32))
    username_lower: Mapped[str] = mapped_column(String(32), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    token_version: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[float] = mapped_column(Float, default=1500.0)
    rated_games: Mapped[int] = mapped_column(Integer, default=0)
    games_played: Mapped[int] = mapped_column(Integer, default=0)
    wins: Mapped[int] = mapped_column(Integer, default=0)
    losses: Mapped[int] = mapped_column(Integer, default=0)
    draws: Mapped[int] = mapped_column(Integer, default=0)
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    role: Mapped[UserRole] = mapped_column(
        _enum_column(UserRole, "user_role"), default=UserRole.PLAYER
    )
    banned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ban_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # Set when the account was deleted: the row stays as a "deleted user" tombstone so games
    # keep their seats, with every personal field overwritten.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # A moderator's chat mute: the user cannot post chat messages before this time.
    chat_muted_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_users_rating", "rating"),)


class RefreshTokenFamily(Base):
    """One login session: every refresh token rotated from one login shares a family."""

    __tablename__ = "refresh_token_families"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    family_id: Mapped[str] = mapped_column(
        ForeignKey("refresh_token_families.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Game(Base):
    __tablename__ = "games"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    board_type: Mapped[str] = mapped_column(String(16))
    max_players: Mapped[int] = mapped_column(Integer)
    # waiting -> active -> completed; waiting -> cancelled
    status: Mapped[str] = mapped_column(String(16), index=True)
    is_rated: Mapped[bool] = mapped_column(Boolean, default=False)
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    time_control: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    rules_options: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    creator_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # Number of applied moves; every committed move bumps it by exactly one.
    version: Mapped[int] = mapped_column(Integer, default=0)
    # Current position: GameState.to_json(include_history=False), no moveHistory (the moves
    # table is the history; snapshots every SNAPSHOT_INTERVAL moves serve replays).
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    current_player: Mapped[int | None] = mapped_column(Integer, nullable=True)
    winner_seat: Mapped[int | None] = mapped_column(Integer, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # ``server.clocks.Clocks.to_store()``, written in the versioned UPDATE of every move; NULL
    # for untimed games (and games started before clocks were kept).
    clocks: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # When the running seat's flag falls (epoch ms; NULL when no clock runs): the flag sweep.
    clock_deadline_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    __table_args__ = (Index("ix_games_clock_deadline", "clock_deadline_ms"),)
    # Private games only: the secret of their invite link (shown to seated players only).
    invite_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The game this one is the rematch of; unique, so one ended game has at most one rematch
    # even when two instances create it at the same moment.
    rematch_of: Mapped[str | None] = mapped_column(
        ForeignKey("games.id", ondelete="SET NULL"), nullable=True, unique=True
    )


class RematchOffer(Base):
    """The rematch offer of an ended game (one per game). Every change is a conditional UPDATE
    on ``version``, so concurrent accepts on different instances are applied one at a time."""

    __tablename__ = "rematch_offers"

    game_id: Mapped[str] = mapped_column(
        ForeignKey("games.id", ondelete="CASCADE"), primary_key=True
    )
    offered_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    # User ids of the human seats that accepted (the offerer included), in order.
    accepted: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[RematchStatus] = mapped_column(
        _enum_column(RematchStatus, "rematch_status"), default=RematchStatus.OPEN
    )
    declined_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    new_game_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GameSeat(Base):
    __tablename__ = "game_seats"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    game_id: Mapped[str] = mapped_column(ForeignKey("games.id", ondelete="CASCADE"))
    seat: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    is_ai: Mapped[bool] = mapped_column(Boolean, default=False)
    ai_level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    resigned: Mapped[bool] = mapped_column(Boolean, default=False)
    final_rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rating_before: Mapped[float | None] = mapped_column(Float, nullable=True)
    rating_after: Mapped[float | None] = mapped_column(Float, nullable=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Presence (server/presence.py): when the seat's last socket went away (or, for a seat that
    # never connected, when a player of the game first looked); NULL while it is connected.
    away_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("game_id", "seat"),
        UniqueConstraint("game_id", "user_id"),
    )


class MoveRecord(Base):
    __tablename__ = "moves"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    game_id: Mapped[str] = mapped_column(ForeignKey("games.id", ondelete="CASCADE"))
    # 1-based; equals the game version right after this move was applied.
    move_number: Mapped[int] = mapped_column(Integer)
    player: Mapped[int] = mapped_column(Integer)
    move: Mapped[dict[str, Any]] = mapped_column(JSON)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    is_ai: Mapped[bool] = mapped_column(Boolean, default=False)
    # "human", "service", "local" or "fallback" (where an AI move came from).
    source: Mapped[str] = mapped_column(String(16), default="human")
    state_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("game_id", "move_number"),)


class GameSnapshot(Base):
    """The position after ``move_number`` moves (every SNAPSHOT_INTERVAL-th move), written in the
    transaction of that move, so a replay applies at most SNAPSHOT_INTERVAL - 1 moves."""

    __tablename__ = "game_snapshots"

    game_id: Mapped[str] = mapped_column(
        ForeignKey("games.id", ondelete="CASCADE"), primary_key=True
    )
    move_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)


class RatingHistory(Base):
    __tablename__ = "rating_history"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    game_id: Mapped[str | None] = mapped_column(
        ForeignKey("games.id", ondelete="SET NULL"), nullable=True
    )
    rating_before: Mapped[float] = mapped_column(Float)
    rating_after: Mapped[float] = mapped_column(Float)
    delta: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_rating_history_user_created", "user_id", "created_at"),)


class AccountToken(Base):
    """A single-use token mailed to a user (email verification, password reset). Only the
    SHA-256 of the token is stored."""

    __tablename__ = "account_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[AccountTokenPurpose] = mapped_column(
        _enum_column(AccountTokenPurpose, "account_token_purpose")
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The address the token was mailed to (a verification token only verifies that address).
    email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Report(Base):
    """A player's report about another user, for moderators."""

    __tablename__ = "reports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    reporter_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    target_user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(1000))
    status: Mapped[ReportStatus] = mapped_column(
        _enum_column(ReportStatus, "report_status"), default=ReportStatus.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Set for a report about one chat message (its author is ``target_user_id``).
    chat_message_id: Mapped[str | None] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="SET NULL"), nullable=True, index=True
    )


class ChatMessage(Base):
    """One chat message of a game channel. ``seq`` numbers the messages of one (game,
    channel) from 1 without gaps; clients catch up by it. A removed message keeps its row
    (and seq) with ``removed_at`` set; its text is no longer served."""

    __tablename__ = "chat_messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    game_id: Mapped[str] = mapped_column(ForeignKey("games.id", ondelete="CASCADE"))
    channel: Mapped[ChatChannel] = mapped_column(_enum_column(ChatChannel, "chat_channel"))
    seq: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    body: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    removed_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )

    __table_args__ = (UniqueConstraint("game_id", "channel", "seq"),)


class MatchmakingEntry(Base):
    """One player waiting in a matchmaking pool (board, players, time control, rated). The
    table is the queue, shared by every instance; ``claim`` marks entries being paired so two
    instances never use the same player twice, and ``game_id`` is set once the game exists."""

    __tablename__ = "matchmaking_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True, index=True
    )
    board_type: Mapped[str] = mapped_column(String(16))
    max_players: Mapped[int] = mapped_column(Integer)
    time_control: Mapped[str] = mapped_column(String(16))
    is_rated: Mapped[bool] = mapped_column(Boolean)
    rating: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claim: Mapped[str | None] = mapped_column(String(36), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    game_id: Mapped[str | None] = mapped_column(String(36), nullable=True)

    __table_args__ = (
        Index("ix_matchmaking_pool", "board_type", "max_players", "time_control", "is_rated"),
    )
