"""Running a bot in plain CPython, for its unit tests: an in-memory host
(KV, logs, Discord REST answers, the early response) and interactions
built like Discord's.

    from appliance_bot.testing import TestBot, TestInteraction
    import app

    bot = TestBot(app.bot)
    answer = bot.run(TestInteraction.command("count").user("42", "alice"))
    assert answer.content == "alice, you have counted 1 time"
    assert bot.kv["count:42"] == b"1"

Deliberate errors (`BotError`) raise from `run` as in the bot; other
exceptions fail the test with their traceback.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from . import _host
from .bot import Bot
from .event import Event
from .interaction import Interaction
from .response import Response

_ids = itertools.count(1)


@dataclass
class LogLine:
    level: str
    message: str


@dataclass
class FakeHost:
    """The host's services in memory. `discord_answers` maps (method, path)
    to (status, JSON) for the REST calls a test expects."""

    kv: dict[str, bytes] = field(default_factory=dict)
    logs: list[LogLine] = field(default_factory=list)
    requests: list[tuple[str, str, Optional[bytes]]] = field(default_factory=list)
    discord_answers: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    responded: list[dict[str, Any]] = field(default_factory=list)
    gateway: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def kv_get(self, key: str) -> Optional[bytes]:
        self._check_key(key)
        return self.kv.get(key)

    def kv_set(self, key: str, value: bytes) -> None:
        self._check_key(key)
        self.kv[key] = bytes(value)

    def kv_delete(self, key: str) -> None:
        self._check_key(key)
        self.kv.pop(key, None)

    def kv_list_keys(self, prefix: str) -> list[str]:
        return sorted(k for k in self.kv if k.startswith(prefix))

    @staticmethod
    def _check_key(key: str) -> None:
        if not key or len(key.encode()) > 512:
            raise _host.HostError("invalid-key", "keys are 1 to 512 bytes")

    def log(self, level: str, message: str) -> None:
        self.logs.append(LogLine(level, message))

    def discord_request(self, method: str, path: str, body: Optional[bytes]) -> tuple[int, bytes]:
        self.requests.append((method, path, body))
        status, answer = self.discord_answers.get((method, path), (200, {}))
        return status, json.dumps(answer).encode() if answer is not None else b""

    def respond(self, response: bytes) -> None:
        if self.responded:
            raise _host.HostError("refused", "the interaction already has its initial response")
        self.responded.append(json.loads(response))

    def update_presence(self, presence: bytes) -> None:
        self.gateway.append(("presence", json.loads(presence)))

    def request_guild_members(self, request: bytes) -> None:
        self.gateway.append(("members", json.loads(request)))


class TestInteraction:
    """An interaction as Discord would send it; chain the setters."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    @classmethod
    def command(cls, name: str) -> "TestInteraction":
        return cls._base(2, {"id": "1", "name": name, "type": 1})

    @classmethod
    def button(cls, custom_id: str) -> "TestInteraction":
        return cls._base(3, {"custom_id": custom_id, "component_type": 2})

    @classmethod
    def _base(cls, kind: int, data: dict[str, Any]) -> "TestInteraction":
        return cls(
            {
                "type": kind,
                "id": str(next(_ids)),
                "application_id": "2",
                "token": "interaction-token",
                "data": data,
                "user": {"id": "7", "username": "tester"},
            }
        )

    def option(self, name: str, value: Any) -> "TestInteraction":
        kind = {bool: 5, int: 4, float: 10, str: 3}[type(value)]
        self.raw["data"].setdefault("options", []).append({"name": name, "type": kind, "value": value})
        return self

    def user(self, user_id: str, name: str) -> "TestInteraction":
        user = {"id": user_id, "username": name}
        if "member" in self.raw:
            self.raw["member"]["user"] = user
        else:
            self.raw["user"] = user
        return self

    def guild(self, guild_id: str) -> "TestInteraction":
        user = self.raw.pop("user", None) or self.raw.get("member", {}).get("user")
        self.raw["guild_id"] = guild_id
        self.raw["member"] = {"user": user, "roles": [], "permissions": "0"}
        return self


class TestBot:
    """A bot with its own in-memory host."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.host = FakeHost()

    @property
    def kv(self) -> dict[str, bytes]:
        return self.host.kv

    @property
    def logs(self) -> list[LogLine]:
        return self.host.logs

    def _with_host(self, work):
        previous = _host.install(self.host)
        try:
            return work()
        finally:
            _host.install(previous)

    def run(self, interaction: TestInteraction | dict[str, Any]) -> Response:
        """The bot's answer to `interaction`, as the export would give it."""
        raw = interaction.raw if isinstance(interaction, TestInteraction) else interaction
        self.host.responded.clear()
        return self._with_host(lambda: self.bot.dispatch(Interaction.from_json(json.dumps(raw))))

    def event(self, name: str, data: Any, shard: int = 0, sequence: int = 0) -> None:
        raw = json.dumps(data).encode()
        self._with_host(lambda: self.bot.handle_event(Event(name, raw, shard, sequence)))

    def commands(self) -> Optional[list[dict[str, Any]]]:
        return self.bot.commands_json()
