"""Discord events (world `event-bot`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    """One event: Discord's name (`MESSAGE_CREATE`, ...), its JSON payload,
    and its place in the gateway session (0 and 0 for a webhook event).
    Delivery is at least once: a bot that must not act twice dedupes."""

    name: str
    raw: bytes
    shard: int = 0
    sequence: int = 0

    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None
