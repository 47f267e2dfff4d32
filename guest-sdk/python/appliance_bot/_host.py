"""The host's imports, behind one seam.

In a component the calls go to componentize-py's bindings of
`guest-sdk/wit/world.wit` (module `wit_world`, generated at build time). In
plain CPython (a bot's unit tests) `appliance_bot.testing` installs an
in-memory host instead, so the same bot code runs in both.
"""

from __future__ import annotations

from typing import Optional, Protocol


class Host(Protocol):
    def kv_get(self, key: str) -> Optional[bytes]: ...
    def kv_set(self, key: str, value: bytes) -> None: ...
    def kv_delete(self, key: str) -> None: ...
    def kv_list_keys(self, prefix: str) -> list[str]: ...
    def log(self, level: str, message: str) -> None: ...
    def discord_request(self, method: str, path: str, body: Optional[bytes]) -> tuple[int, bytes]: ...
    def respond(self, response: bytes) -> None: ...
    def update_presence(self, presence: bytes) -> None: ...
    def request_guild_members(self, request: bytes) -> None: ...


class HostError(Exception):
    """A host call was refused: `kind` is the WIT variant's case
    (`quota-exceeded`, `rate-limited`, ...) and `detail` its payload."""

    def __init__(self, kind: str, detail: object) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def _variant(err: object) -> HostError:
    # componentize-py raises `Err(value)`; a WIT variant case is a dataclass
    # named after the case (KvError_QuotaExceeded) with a `value` field.
    value = getattr(err, "value", err)
    case = type(value).__name__.split("_", 1)[-1]
    kind = "".join("-" + c.lower() if c.isupper() else c for c in case).lstrip("-")
    return HostError(kind, getattr(value, "value", value))


class WasmHost:
    """The real host, through the component's imports."""

    def __init__(self) -> None:
        from componentize_py_types import Err
        from wit_world.imports import discord, gateway, interaction, kv, log

        self._err = Err
        self._kv = kv
        self._log = log
        self._discord = discord
        self._interaction = interaction
        self._gateway = gateway
        self._levels = {
            "trace": log.Level.TRACE,
            "debug": log.Level.DEBUG,
            "info": log.Level.INFO,
            "warn": log.Level.WARN,
            "error": log.Level.ERROR,
        }

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except self._err as err:
            raise _variant(err) from None

    def kv_get(self, key: str) -> Optional[bytes]:
        return self._call(self._kv.get, key)

    def kv_set(self, key: str, value: bytes) -> None:
        self._call(self._kv.set, key, value)

    def kv_delete(self, key: str) -> None:
        self._call(self._kv.delete, key)

    def kv_list_keys(self, prefix: str) -> list[str]:
        return self._call(self._kv.list_keys, prefix)

    def log(self, level: str, message: str) -> None:
        self._log.log(self._levels[level], message)

    def discord_request(self, method: str, path: str, body: Optional[bytes]) -> tuple[int, bytes]:
        response = self._call(self._discord.request, method, path, body)
        return response.status, response.body

    def respond(self, response: bytes) -> None:
        try:
            self._interaction.respond(response)
        except self._err as err:
            raise HostError("refused", err.value) from None

    def update_presence(self, presence: bytes) -> None:
        self._call(self._gateway.update_presence, presence)

    def request_guild_members(self, request: bytes) -> None:
        self._call(self._gateway.request_guild_members, request)


_current: Optional[Host] = None


def host() -> Host:
    """The host in use: the component's imports unless a test installed one."""
    global _current
    if _current is None:
        _current = WasmHost()
    return _current


def install(new: Optional[Host]) -> Optional[Host]:
    """Replaces the host (for tests); returns the previous one."""
    global _current
    previous, _current = _current, new
    return previous
