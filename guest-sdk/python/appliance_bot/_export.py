"""The component's exports (the `WitWorld` class componentize-py looks for),
and what happens to a handler's exception.

- `BotError` (and the SDK's `KvError`, `DiscordError`, ...) is the export's
  `err`: the user gets the ephemeral error notice, the owner a log line.
- Any other exception is a bug: its traceback goes to stderr and the
  instance traps, so the host writes a crash record that starts with the
  traceback (file, line and function of the bot's own code) and drops the
  instance, whose state may be half-updated.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Callable, Optional, TypeVar

from componentize_py_types import Err

from .bot import the_bot
from .errors import BotError
from .event import Event
from .interaction import Interaction

T = TypeVar("T")

_SDK_DIR = os.path.dirname(__file__)


def _crash(error: BaseException) -> None:
    """Prints the traceback without the SDK's own outer frames, then traps."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename.startswith(_SDK_DIR):
        tb = tb.tb_next
    sys.stderr.write("".join(traceback.format_exception(type(error), error, tb)))
    sys.stderr.flush()
    # abort() is wasm's `unreachable`: the host sees a trap, not an answer.
    os.abort()


def _guard(work: Callable[[], T]) -> T:
    try:
        return work()
    except BotError as error:
        raise Err(str(error) or type(error).__name__) from None
    except Err:
        raise
    except BaseException as error:  # noqa: BLE001 - every other exception is a crash
        _crash(error)
        raise


class WitWorld:
    """Exports of world `command-event-bot`."""

    def handle_interaction(self, interaction: bytes) -> bytes:
        return _guard(lambda: the_bot().dispatch(Interaction.from_json(interaction)).to_json())

    def handle_event(self, event) -> None:  # event: wit_world.imports.events.Event
        _guard(lambda: the_bot().handle_event(Event(event.name, bytes(event.data), event.shard, event.sequence)))

    def commands(self) -> Optional[bytes]:
        def declared() -> Optional[bytes]:
            commands = the_bot().commands_json()
            return None if commands is None else json.dumps(commands, separators=(",", ":")).encode()

        return _guard(declared)
