"""Discord's REST API, called as this bot through the host.

The host adds the token and keeps within Discord's rate limits; the bot
never sees the token. Paths are relative to the API base:
`request("POST", f"/channels/{channel_id}/messages", {"content": "hi"})`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from . import _host
from .errors import DiscordError

_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


@dataclass(frozen=True)
class DiscordResponse:
    """Discord's answer: the status and the body (JSON or empty)."""

    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def request(method: str, path: str, body: Any = None) -> DiscordResponse:
    """Sends `method` to `path` with `body` (bytes, or a value sent as JSON)."""
    method = method.upper()
    if method not in _METHODS:
        raise DiscordError("invalid-request", f"{method} is not one of {', '.join(_METHODS)}")
    if body is not None and not isinstance(body, (bytes, bytearray)):
        body = json.dumps(body, separators=(",", ":")).encode()
    try:
        status, data = _host.host().discord_request(method, path, None if body is None else bytes(body))
    except _host.HostError as err:
        raise DiscordError(err.kind, err.detail) from None
    return DiscordResponse(status, bytes(data))


def get(path: str) -> DiscordResponse:
    return request("GET", path)


def post(path: str, body: Any = None) -> DiscordResponse:
    return request("POST", path, body)


def patch(path: str, body: Any = None) -> DiscordResponse:
    return request("PATCH", path, body)


def put(path: str, body: Any = None) -> DiscordResponse:
    return request("PUT", path, body)


def delete(path: str) -> DiscordResponse:
    return request("DELETE", path)
