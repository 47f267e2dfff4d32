"""appliance_bot: write Discord bots in Python for an appliance node.

    from appliance_bot import Bot, Interaction, Response, kv, log

    bot = Bot()

    @bot.command(description="Check that the bot answers")
    def ping(interaction: Interaction) -> Response:
        return Response.message("pong")

Build the module into a component with
`python -m appliance_bot.build app.py -o bot.wasm` and deploy it with
`appliance deploy bot.wasm ...`. See guest-sdk/python/README.md.
"""

from . import discord, gateway, kv, log
from .bot import Attachment, Bot, Channel, Mentionable, Role, User
from .discord import DiscordResponse
from .errors import BotError, DiscordError, GatewayError, KvError
from .event import Event
from .interaction import Interaction, InteractionType, Options, OptionType
from .response import (
    ActionRow,
    Button,
    ButtonStyle,
    Embed,
    Response,
    ResponseType,
    SelectMenu,
    SelectOption,
    TextInput,
)

__all__ = [
    "ActionRow",
    "Attachment",
    "Bot",
    "BotError",
    "Button",
    "ButtonStyle",
    "Channel",
    "DiscordError",
    "DiscordResponse",
    "Embed",
    "Event",
    "GatewayError",
    "Interaction",
    "InteractionType",
    "KvError",
    "Mentionable",
    "Options",
    "OptionType",
    "Response",
    "ResponseType",
    "Role",
    "SelectMenu",
    "SelectOption",
    "TextInput",
    "User",
    "discord",
    "gateway",
    "kv",
    "log",
]
