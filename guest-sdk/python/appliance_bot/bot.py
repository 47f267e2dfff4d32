"""`Bot`: the routes from interactions and events to the bot's functions,
declared with decorators, and the commands it registers with Discord.

    bot = Bot()

    @bot.command(description="Check that the bot answers")
    def ping(interaction: Interaction, private: Annotated[bool, "Only you see it"] = False):
        return Response.message("pong", ephemeral=private)

A slash command's options come from the handler's parameters after the
interaction: the type hint gives the option's type (`str`, `int`, `float`,
`bool`, or `User`, `Channel`, `Role`, `Mentionable`, `Attachment`), an
`Annotated[..., "text"]` its description, and a default makes it optional.
The decorators run when the module is imported, which componentize-py does
at build time: the routes and the command list are in the component's
pre-initialised memory, not rebuilt at each cold start.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .errors import BotError
from .event import Event
from .interaction import Interaction, InteractionType, OptionType
from .response import Response

UNKNOWN_COMMAND = "unknown command"
UNKNOWN_COMPONENT = "this button is no longer handled"
UNKNOWN_MODAL = "this form is no longer handled"


class User(str):
    """Type hint for a user option (its value is the user's id)."""


class Channel(str):
    """Type hint for a channel option."""


class Role(str):
    """Type hint for a role option."""


class Mentionable(str):
    """Type hint for a user-or-role option."""


class Attachment(str):
    """Type hint for an attachment option."""


_OPTION_TYPES: dict[Any, OptionType] = {
    str: OptionType.STRING,
    int: OptionType.INTEGER,
    float: OptionType.NUMBER,
    bool: OptionType.BOOLEAN,
    User: OptionType.USER,
    Channel: OptionType.CHANNEL,
    Role: OptionType.ROLE,
    Mentionable: OptionType.MENTIONABLE,
    Attachment: OptionType.ATTACHMENT,
}

Handler = Callable[..., Any]


@dataclass
class _Param:
    name: str
    kind: OptionType
    description: str
    required: bool
    default: Any


@dataclass
class _Command:
    name: str
    description: str
    kind: int
    handler: Handler
    params: list[_Param]
    autocomplete: Optional[Handler] = None

    def registration(self) -> dict[str, Any]:
        command: dict[str, Any] = {"type": self.kind, "name": self.name}
        if self.kind == 1:
            command["description"] = self.description
            command["options"] = [
                {"type": int(p.kind), "name": p.name, "description": p.description, "required": p.required}
                for p in self.params
            ]
        return command


def _params(handler: Handler) -> list[_Param]:
    """The options a handler takes after its interaction, from its signature."""
    hints = typing.get_type_hints(handler, include_extras=True)
    params = list(inspect.signature(handler).parameters.values())[1:]
    out = []
    for param in params:
        hint = hints.get(param.name, str)
        description = param.name
        if typing.get_origin(hint) is typing.Annotated:
            hint, *extras = typing.get_args(hint)
            description = next((e for e in extras if isinstance(e, str)), description)
        # Optional[T] / T | None: the option may be left out.
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if args and len(args) < len(typing.get_args(hint)):
            hint = args[0]
        kind = _OPTION_TYPES.get(hint)
        if kind is None:
            raise TypeError(f"{handler.__name__}: parameter {param.name!r} has type {hint!r}, not an option type")
        required = param.default is inspect.Parameter.empty
        out.append(_Param(param.name, kind, description, required, None if required else param.default))
    return out


class Bot:
    """A bot's routes. Make one per bot, at module level."""

    def __init__(self) -> None:
        self._commands: list[_Command] = []
        self._components: list[tuple[str, bool, Handler]] = []
        self._modals: list[tuple[str, bool, Handler]] = []
        self._events: dict[str, list[Handler]] = {}
        self._fallback: Optional[Handler] = None
        _registry.append(self)

    # --- declaring -----------------------------------------------------

    def command(
        self, name: Optional[str] = None, *, description: Optional[str] = None
    ) -> Callable[[Handler], Handler]:
        """A slash command, named after the function unless `name` says
        otherwise; its description defaults to the docstring's first line."""

        def register(handler: Handler) -> Handler:
            doc = (inspect.getdoc(handler) or "").strip().splitlines()
            text = description or (doc[0] if doc else name or handler.__name__)
            self._add(_Command(name or handler.__name__, text, 1, handler, _params(handler)))
            return handler

        return register

    def user_command(self, name: str) -> Callable[[Handler], Handler]:
        """A user context-menu command (`interaction.target` is the user)."""
        return self._menu(name, 2)

    def message_command(self, name: str) -> Callable[[Handler], Handler]:
        """A message context-menu command (`interaction.target` is the message)."""
        return self._menu(name, 3)

    def _menu(self, name: str, kind: int) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._add(_Command(name, "", kind, handler, []))
            return handler

        return register

    def _add(self, command: _Command) -> None:
        if any(c.name == command.name and c.kind == command.kind for c in self._commands):
            raise ValueError(f"the command {command.name!r} is declared twice")
        self._commands.append(command)

    def autocomplete(self, command: str) -> Callable[[Handler], Handler]:
        """Suggestions for the command's options: the handler gets the
        interaction, the focused option's name and what was typed so far,
        and returns a list of (name, value) or a `Response`."""

        def register(handler: Handler) -> Handler:
            for c in self._commands:
                if c.name == command and c.kind == 1:
                    c.autocomplete = handler
                    return handler
            raise ValueError(f"autocomplete for {command!r}: declare the command first")

        return register

    def component(self, custom_id: str, *, prefix: bool = False) -> Callable[[Handler], Handler]:
        """A button or select menu with this `custom_id` (or any starting
        with it, with `prefix=True`: state can follow, as in `vote:42`)."""

        def register(handler: Handler) -> Handler:
            self._components.append((custom_id, prefix, handler))
            return handler

        return register

    def modal(self, custom_id: str, *, prefix: bool = False) -> Callable[[Handler], Handler]:
        """The submission of a modal with this `custom_id`."""

        def register(handler: Handler) -> Handler:
            self._modals.append((custom_id, prefix, handler))
            return handler

        return register

    def fallback(self, handler: Handler) -> Handler:
        """Anything no other route takes (instead of the default notices)."""
        self._fallback = handler
        return handler

    def event(self, name: str = "*") -> Callable[[Handler], Handler]:
        """A Discord event handler (world `event-bot`): `MESSAGE_CREATE`,
        `GUILD_MEMBER_ADD`, ... or `*` for every event. Deploy the bot with
        `--intents` to receive gateway events."""

        def register(handler: Handler) -> Handler:
            self._events.setdefault(name, []).append(handler)
            return handler

        return register

    # --- running -------------------------------------------------------

    @property
    def handles_events(self) -> bool:
        return bool(self._events)

    def commands_json(self) -> Optional[list[dict[str, Any]]]:
        """The command list Discord's bulk overwrite takes, or None when the
        bot declares no commands (registration is left alone)."""
        if not self._commands:
            return None
        return [c.registration() for c in self._commands]

    def dispatch(self, interaction: Interaction) -> Response:
        """Runs the route for `interaction` and returns its answer."""
        kind = interaction.type
        if kind == InteractionType.PING:
            return Response(1)
        if kind in (InteractionType.COMMAND, InteractionType.AUTOCOMPLETE):
            command = self._find_command(interaction)
            if command is None:
                return self._unrouted(interaction, UNKNOWN_COMMAND)
            if kind == InteractionType.AUTOCOMPLETE:
                return self._autocomplete(command, interaction)
            args = [self._argument(interaction, p) for p in command.params]
            return self._answer(interaction, command.handler(interaction, *args))
        routes = self._components if kind == InteractionType.COMPONENT else self._modals
        custom_id = interaction.custom_id or ""
        for wanted, prefix, handler in routes:
            if custom_id == wanted or (prefix and custom_id.startswith(wanted)):
                return self._answer(interaction, handler(interaction))
        unknown = UNKNOWN_COMPONENT if kind == InteractionType.COMPONENT else UNKNOWN_MODAL
        return self._unrouted(interaction, unknown)

    def _find_command(self, interaction: Interaction) -> Optional[_Command]:
        name, kind = interaction.command_name, interaction.command_type
        return next((c for c in self._commands if c.name == name and c.kind == kind), None)

    @staticmethod
    def _argument(interaction: Interaction, param: _Param) -> Any:
        value = interaction.options.value(param.name)
        if value is None:
            if param.required:
                raise BotError(f"the option {param.name!r} is required")
            return param.default
        if param.kind == OptionType.NUMBER:
            return float(value)
        return value

    def _autocomplete(self, command: _Command, interaction: Interaction) -> Response:
        focused = interaction.options.focused()
        if command.autocomplete is None or focused is None:
            return Response.choices([])
        result = command.autocomplete(interaction, *focused)
        return result if isinstance(result, Response) else Response.choices(result)

    def _unrouted(self, interaction: Interaction, notice: str) -> Response:
        if self._fallback is not None:
            return self._answer(interaction, self._fallback(interaction))
        if interaction.type == InteractionType.AUTOCOMPLETE:
            return Response.choices([])
        return Response.message(notice, ephemeral=True)

    @staticmethod
    def _answer(interaction: Interaction, result: Any) -> Response:
        """What a handler returned, as a response: a Response, a string
        (a public message), or None after `interaction.reply(...)`."""
        if isinstance(result, Response):
            return result
        if isinstance(result, str):
            return Response.message(result)
        if result is None and interaction._reply is not None:
            return interaction._reply
        if result is None and interaction._responded:
            # Deferred and nothing more to say: the deferral stands.
            return Response.defer_update() if interaction.type == InteractionType.COMPONENT else Response.defer()
        raise BotError(f"the handler returned {type(result).__name__}, not a Response or text")

    def handle_event(self, event: Event) -> None:
        for handler in self._events.get(event.name, []) + self._events.get("*", []):
            handler(event)


# Every Bot made, so the component's exports find the one the app module
# created without the app naming an export.
_registry: list[Bot] = []


def the_bot() -> Bot:
    if len(_registry) != 1:
        raise RuntimeError(f"the app must create exactly one Bot(), it created {len(_registry)}")
    return _registry[0]
