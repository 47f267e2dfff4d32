"""One Discord interaction, read from the JSON Discord sent, and the ways to
answer it: return a `Response` (or call `reply`), `defer` first when the
work is slow, `follow_up` and `edit_reply` afterwards.
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any, Optional, Sequence

from . import _host, discord
from .errors import BotError
from .response import ActionRow, Embed, Response, _message_data


class InteractionType(IntEnum):
    PING = 1
    COMMAND = 2
    COMPONENT = 3
    AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class OptionType(IntEnum):
    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


class Options:
    """A command's options, by name (`interaction.options.get_string("q")`).

    Each getter returns None for an option the user left out, or raises
    `BotError` naming the option with `required=True`; an option of another
    type is a `BotError` too. Sub-commands' options are flattened.
    """

    def __init__(self, options: Sequence[dict[str, Any]], resolved: dict[str, Any]) -> None:
        self._by_name: dict[str, dict[str, Any]] = {}
        self.subcommand: Optional[str] = None
        self.subcommand_group: Optional[str] = None
        self._resolved = resolved
        self._collect(options)

    def _collect(self, options: Sequence[dict[str, Any]]) -> None:
        for option in options:
            kind = option.get("type")
            if kind == OptionType.SUB_COMMAND_GROUP:
                self.subcommand_group = option["name"]
                self._collect(option.get("options", ()))
            elif kind == OptionType.SUB_COMMAND:
                self.subcommand = option["name"]
                self._collect(option.get("options", ()))
            else:
                self._by_name[option["name"]] = option

    def _get(self, name: str, kinds: tuple[int, ...], required: bool) -> Any:
        option = self._by_name.get(name)
        if option is None:
            if required:
                raise BotError(f"the option {name!r} is required")
            return None
        if option.get("type") not in kinds:
            raise BotError(f"the option {name!r} is not of type {OptionType(kinds[0]).name.lower()}")
        return option.get("value")

    def get_string(self, name: str, required: bool = False) -> Optional[str]:
        return self._get(name, (OptionType.STRING,), required)

    def get_integer(self, name: str, required: bool = False) -> Optional[int]:
        return self._get(name, (OptionType.INTEGER,), required)

    def get_number(self, name: str, required: bool = False) -> Optional[float]:
        value = self._get(name, (OptionType.NUMBER, OptionType.INTEGER), required)
        return None if value is None else float(value)

    def get_boolean(self, name: str, required: bool = False) -> Optional[bool]:
        return self._get(name, (OptionType.BOOLEAN,), required)

    def _snowflake(self, name: str, kind: int, required: bool) -> Optional[str]:
        return self._get(name, (kind, OptionType.MENTIONABLE), required)

    def get_user(self, name: str, required: bool = False) -> Optional[dict[str, Any]]:
        """The user (resolved object) named by a user option."""
        user_id = self._snowflake(name, OptionType.USER, required)
        return None if user_id is None else self._resolved.get("users", {}).get(user_id, {"id": user_id})

    def get_channel(self, name: str, required: bool = False) -> Optional[dict[str, Any]]:
        channel_id = self._get(name, (OptionType.CHANNEL,), required)
        return None if channel_id is None else self._resolved.get("channels", {}).get(channel_id, {"id": channel_id})

    def get_role(self, name: str, required: bool = False) -> Optional[dict[str, Any]]:
        role_id = self._snowflake(name, OptionType.ROLE, required)
        return None if role_id is None else self._resolved.get("roles", {}).get(role_id, {"id": role_id})

    def get_attachment(self, name: str, required: bool = False) -> Optional[dict[str, Any]]:
        attachment_id = self._get(name, (OptionType.ATTACHMENT,), required)
        return None if attachment_id is None else self._resolved.get("attachments", {}).get(attachment_id, {"id": attachment_id})

    def value(self, name: str) -> Any:
        """The raw value of any option, or None."""
        option = self._by_name.get(name)
        return None if option is None else option.get("value")

    def focused(self) -> Optional[tuple[str, Any]]:
        """The option being typed, in an autocomplete request: (name, value)."""
        for name, option in self._by_name.items():
            if option.get("focused"):
                return name, option.get("value")
        return None

    def __contains__(self, name: str) -> bool:
        return name in self._by_name


class Interaction:
    """An interaction as Discord sent it. `raw` is the whole JSON object."""

    def __init__(self, raw: dict[str, Any]) -> None:
        if not isinstance(raw, dict) or "type" not in raw:
            raise BotError("the interaction is not a JSON object with a type")
        self.raw = raw
        self.data: dict[str, Any] = raw.get("data") or {}
        self.options = Options(self.data.get("options", ()), self.data.get("resolved", {}))
        # The answer given through reply() and whether the initial response
        # already went out through the host (defer).
        self._reply: Optional[Response] = None
        self._responded = False

    @classmethod
    def from_json(cls, body: bytes | str) -> "Interaction":
        try:
            raw = json.loads(body)
        except ValueError as err:
            raise BotError(f"the interaction is not valid JSON: {err}") from None
        return cls(raw)

    # --- who, where ----------------------------------------------------

    @property
    def type(self) -> int:
        return self.raw["type"]

    @property
    def id(self) -> str:
        return self.raw.get("id", "")

    @property
    def application_id(self) -> str:
        return self.raw.get("application_id", "")

    @property
    def token(self) -> str:
        return self.raw.get("token", "")

    @property
    def guild_id(self) -> Optional[str]:
        return self.raw.get("guild_id")

    @property
    def channel_id(self) -> Optional[str]:
        return self.raw.get("channel_id") or (self.raw.get("channel") or {}).get("id")

    @property
    def member(self) -> Optional[dict[str, Any]]:
        return self.raw.get("member")

    @property
    def user(self) -> Optional[dict[str, Any]]:
        """The caller: `member.user` in a server, `user` in a direct message."""
        member = self.raw.get("member")
        if member and member.get("user"):
            return member["user"]
        return self.raw.get("user")

    @property
    def user_id(self) -> Optional[str]:
        user = self.user
        return None if user is None else user.get("id")

    @property
    def display_name(self) -> Optional[str]:
        """Server nickname, else global display name, else username."""
        user = self.user
        if user is None:
            return None
        nick = (self.raw.get("member") or {}).get("nick")
        return nick or user.get("global_name") or user.get("username")

    # --- what ----------------------------------------------------------

    @property
    def command_name(self) -> Optional[str]:
        if self.type in (InteractionType.COMMAND, InteractionType.AUTOCOMPLETE):
            return self.data.get("name")
        return None

    @property
    def command_type(self) -> Optional[int]:
        """1 slash, 2 user, 3 message command; None for other interactions."""
        if self.type in (InteractionType.COMMAND, InteractionType.AUTOCOMPLETE):
            return self.data.get("type", 1)
        return None

    @property
    def custom_id(self) -> Optional[str]:
        """A component's or a modal's `custom_id`."""
        if self.type in (InteractionType.COMPONENT, InteractionType.MODAL_SUBMIT):
            return self.data.get("custom_id")
        return None

    @property
    def values(self) -> list[str]:
        """A select menu's chosen values."""
        return list(self.data.get("values", ()))

    def field(self, custom_id: str) -> Optional[str]:
        """A submitted modal's text input value."""
        for row in self.data.get("components", ()):
            for component in row.get("components", ()):
                if component.get("custom_id") == custom_id:
                    return component.get("value")
        return None

    @property
    def target(self) -> Optional[dict[str, Any]]:
        """The user or message a user/message command was used on."""
        target_id = self.data.get("target_id")
        if target_id is None:
            return None
        resolved = self.data.get("resolved", {})
        for kind in ("messages", "users"):
            if target_id in resolved.get(kind, {}):
                return resolved[kind][target_id]
        return {"id": target_id}

    # --- answering -----------------------------------------------------

    def reply(
        self,
        content: Optional[str] = None,
        *,
        embeds: Sequence[Embed] = (),
        components: Sequence[ActionRow] = (),
        ephemeral: bool = False,
    ) -> Response:
        """The answer: a message. Return it, or just call this and return
        nothing. After `defer()` it becomes the deferred message's text."""
        if self._reply is not None:
            raise BotError("this interaction has its reply already; use follow_up for another message")
        self._reply = Response.message(content, embeds=embeds, components=components, ephemeral=ephemeral)
        return self._reply

    def defer(self, ephemeral: bool = False) -> None:
        """Tells Discord now that the answer is coming ("thinking..."), so
        slow work can go on past Discord's 3 s; the reply given later is
        delivered as an edit of the deferred message."""
        self._respond_now(Response.defer(ephemeral))

    def defer_update(self) -> None:
        """For a component: acknowledge now, update the message later."""
        self._respond_now(Response.defer_update())

    def send(self, response: Response) -> None:
        """Sends the initial response now, while the handler goes on."""
        self._respond_now(response)

    def _respond_now(self, response: Response) -> None:
        if self._responded:
            raise BotError("this interaction was answered already")
        try:
            _host.host().respond(response.to_json())
        except _host.HostError as err:
            raise BotError(f"the response was refused: {err.detail}") from None
        self._responded = True

    def follow_up(
        self,
        content: Optional[str] = None,
        *,
        embeds: Sequence[Embed] = (),
        components: Sequence[ActionRow] = (),
        ephemeral: bool = False,
    ) -> discord.DiscordResponse:
        """Another message after the first answer (through Discord's
        interaction webhook)."""
        body = _message_data(content, embeds, components, ephemeral)
        return self._webhook("POST", "", body)

    def edit_reply(
        self,
        content: Optional[str] = None,
        *,
        embeds: Sequence[Embed] = (),
        components: Sequence[ActionRow] = (),
    ) -> discord.DiscordResponse:
        """Edits the first answer, once it was sent."""
        body = _message_data(content, embeds, components)
        return self._webhook("PATCH", "/messages/@original", body)

    def delete_reply(self) -> discord.DiscordResponse:
        return self._webhook("DELETE", "/messages/@original", None)

    def _webhook(self, method: str, tail: str, body: Any) -> discord.DiscordResponse:
        path = f"/webhooks/{self.application_id}/{self.token}{tail}"
        return discord.request(method, path, body)

    def __repr__(self) -> str:
        return f"Interaction(type={self.type}, id={self.id!r}, command={self.command_name!r}, custom_id={self.custom_id!r})"
