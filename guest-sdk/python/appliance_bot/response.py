"""Interaction responses and the message parts they carry: embeds and
components (buttons, select menus, in action rows).

A `Response` is the JSON the node sends back to Discord; build one with its
class methods and chain the setters:

    Response.message("pong").ephemeral()
    Response.message(embeds=[Embed(title="Stats").field("Users", "3")])
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Optional, Sequence

EPHEMERAL = 64


class ResponseType(IntEnum):
    PONG = 1
    MESSAGE = 4
    DEFERRED_MESSAGE = 5
    DEFERRED_UPDATE = 6
    UPDATE_MESSAGE = 7
    AUTOCOMPLETE = 8
    MODAL = 9


class ButtonStyle(IntEnum):
    PRIMARY = 1
    SECONDARY = 2
    SUCCESS = 3
    DANGER = 4
    LINK = 5


def _drop_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


@dataclass
class Embed:
    """A rich embed. `field()` adds a name/value pair and returns the embed."""

    title: Optional[str] = None
    description: Optional[str] = None
    url: Optional[str] = None
    color: Optional[int] = None
    footer: Optional[str] = None
    image: Optional[str] = None
    thumbnail: Optional[str] = None
    author: Optional[str] = None
    timestamp: Optional[str] = None
    fields: list[dict[str, Any]] = field(default_factory=list)

    def field(self, name: str, value: str, inline: bool = False) -> "Embed":
        self.fields.append({"name": name, "value": value, "inline": inline})
        return self

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "title": self.title,
                "description": self.description,
                "url": self.url,
                "color": self.color,
                "timestamp": self.timestamp,
                "author": None if self.author is None else {"name": self.author},
                "footer": None if self.footer is None else {"text": self.footer},
                "image": None if self.image is None else {"url": self.image},
                "thumbnail": None if self.thumbnail is None else {"url": self.thumbnail},
                "fields": self.fields or None,
            }
        )


@dataclass
class Button:
    """A button: `custom_id` routes its click to `@bot.component(...)`; a
    link button has a `url` instead."""

    label: str
    custom_id: Optional[str] = None
    style: ButtonStyle = ButtonStyle.PRIMARY
    url: Optional[str] = None
    disabled: bool = False
    emoji: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        style = ButtonStyle.LINK if self.url else self.style
        return _drop_none(
            {
                "type": 2,
                "style": int(style),
                "label": self.label,
                "custom_id": None if self.url else self.custom_id,
                "url": self.url,
                "disabled": self.disabled or None,
                "emoji": None if self.emoji is None else {"name": self.emoji},
            }
        )


@dataclass
class SelectOption:
    label: str
    value: str
    description: Optional[str] = None
    default: bool = False

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "label": self.label,
                "value": self.value,
                "description": self.description,
                "default": self.default or None,
            }
        )


@dataclass
class SelectMenu:
    """A string select menu (component type 3)."""

    custom_id: str
    options: Sequence[SelectOption]
    placeholder: Optional[str] = None
    min_values: Optional[int] = None
    max_values: Optional[int] = None

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "type": 3,
                "custom_id": self.custom_id,
                "options": [o.to_dict() for o in self.options],
                "placeholder": self.placeholder,
                "min_values": self.min_values,
                "max_values": self.max_values,
            }
        )


@dataclass
class TextInput:
    """A text field of a modal (component type 4)."""

    custom_id: str
    label: str
    paragraph: bool = False
    required: bool = True
    placeholder: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(
            {
                "type": 4,
                "custom_id": self.custom_id,
                "label": self.label,
                "style": 2 if self.paragraph else 1,
                "required": self.required,
                "placeholder": self.placeholder,
            }
        )


class ActionRow:
    """A row of up to five buttons, or one select menu or text input."""

    def __init__(self, *components: Button | SelectMenu | TextInput) -> None:
        if not 1 <= len(components) <= 5:
            raise ValueError("an action row holds 1 to 5 components")
        self.components = list(components)

    def to_dict(self) -> dict[str, Any]:
        return {"type": 1, "components": [c.to_dict() for c in self.components]}


def _message_data(
    content: Optional[str],
    embeds: Sequence[Embed] = (),
    components: Sequence[ActionRow] = (),
    ephemeral: bool = False,
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if content is not None:
        data["content"] = content
    if embeds:
        data["embeds"] = [e.to_dict() for e in embeds]
    if components:
        data["components"] = [c.to_dict() for c in components]
    if ephemeral:
        data["flags"] = EPHEMERAL
    return data


class Response:
    """An interaction response: its `type` and `data`, as Discord takes them."""

    def __init__(self, type: int, data: Optional[dict[str, Any]] = None) -> None:
        self.type = int(type)
        self.data = data

    @classmethod
    def message(
        cls,
        content: Optional[str] = None,
        *,
        embeds: Sequence[Embed] = (),
        components: Sequence[ActionRow] = (),
        ephemeral: bool = False,
    ) -> "Response":
        """A new message in the channel (type 4)."""
        return cls(ResponseType.MESSAGE, _message_data(content, embeds, components, ephemeral))

    @classmethod
    def update(
        cls,
        content: Optional[str] = None,
        *,
        embeds: Sequence[Embed] = (),
        components: Sequence[ActionRow] = (),
    ) -> "Response":
        """Edits the message whose component was used (type 7)."""
        return cls(ResponseType.UPDATE_MESSAGE, _message_data(content, embeds, components))

    @classmethod
    def defer(cls, ephemeral: bool = False) -> "Response":
        """"The bot is thinking" (type 5); the answer comes later."""
        return cls(ResponseType.DEFERRED_MESSAGE, {"flags": EPHEMERAL} if ephemeral else None)

    @classmethod
    def defer_update(cls) -> "Response":
        """Acknowledges a component use without changing anything yet (type 6)."""
        return cls(ResponseType.DEFERRED_UPDATE)

    @classmethod
    def choices(cls, choices: Sequence[tuple[str, str | int | float]]) -> "Response":
        """Autocomplete suggestions (type 8): (name, value) pairs, at most 25."""
        return cls(
            ResponseType.AUTOCOMPLETE,
            {"choices": [{"name": n, "value": v} for n, v in list(choices)[:25]]},
        )

    @classmethod
    def modal(cls, custom_id: str, title: str, *inputs: TextInput) -> "Response":
        """A form (type 9); its submission goes to `@bot.modal(custom_id)`."""
        return cls(
            ResponseType.MODAL,
            {
                "custom_id": custom_id,
                "title": title,
                "components": [ActionRow(i).to_dict() for i in inputs],
            },
        )

    def ephemeral(self, on: bool = True) -> "Response":
        """Only the user who acted sees the message."""
        data = dict(self.data or {})
        flags = data.get("flags", 0)
        data["flags"] = flags | EPHEMERAL if on else flags & ~EPHEMERAL
        if not data["flags"]:
            del data["flags"]
        self.data = data
        return self

    @property
    def is_ephemeral(self) -> bool:
        return bool((self.data or {}).get("flags", 0) & EPHEMERAL)

    @property
    def content(self) -> Optional[str]:
        return (self.data or {}).get("content")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.data is not None:
            out["data"] = self.data
        return out

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()

    def __repr__(self) -> str:
        return f"Response({self.to_dict()!r})"
