"""Commands sent over the bot's gateway sessions (world `event-bot`)."""

from __future__ import annotations

import json
from typing import Any, Optional

from . import _host
from .errors import GatewayError


def _send(fn, payload: Any) -> None:
    try:
        fn(json.dumps(payload, separators=(",", ":")).encode())
    except _host.HostError as err:
        raise GatewayError(err.kind, err.detail) from None


def update_presence(status: str = "online", activity: Optional[str] = None, kind: int = 0) -> None:
    """Sets the bot's status and, optionally, one activity (`kind` 0 playing,
    2 listening, 3 watching, 5 competing)."""
    activities = [] if activity is None else [{"name": activity, "type": kind}]
    _send(_host.host().update_presence, {"since": None, "activities": activities, "status": status, "afk": False})


def request_guild_members(guild_id: str, query: str = "", limit: int = 0) -> None:
    """Asks for a guild's members; they arrive as GUILD_MEMBERS_CHUNK events."""
    _send(_host.host().request_guild_members, {"guild_id": guild_id, "query": query, "limit": limit})
