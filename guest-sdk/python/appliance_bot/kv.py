"""The bot's own key-value store, kept by the host.

Every bot has a private keyspace. Values are bytes; `get_json`/`set_json`
store any JSON value and `incr` is the common counter (stored as decimal
text, `b"3"`, like the Rust SDK, so a bot can move between languages and
keep its data). A write is durable once it returns.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from . import _host
from .errors import KvError


def _call(fn, *args):
    try:
        return fn(*args)
    except _host.HostError as err:
        raise KvError(err.kind, str(err.detail)) from None


def get(key: str) -> Optional[bytes]:
    """The value under `key`, or None."""
    return _call(_host.host().kv_get, key)


def set(key: str, value: bytes | str) -> None:
    """Stores `value` (bytes, or text as UTF-8) under `key`."""
    if isinstance(value, str):
        value = value.encode()
    _call(_host.host().kv_set, key, bytes(value))


def delete(key: str) -> None:
    """Removes `key`; removing a missing key is not an error."""
    _call(_host.host().kv_delete, key)


def list_keys(prefix: str = "") -> list[str]:
    """The bot's keys starting with `prefix`, in byte order."""
    return list(_call(_host.host().kv_list_keys, prefix))


def get_json(key: str) -> Any:
    """The JSON value under `key`, or None if there is none."""
    raw = get(key)
    return None if raw is None else json.loads(raw)


def set_json(key: str, value: Any) -> None:
    """Stores `value` as compact JSON under `key`."""
    set(key, json.dumps(value, separators=(",", ":")))


def incr(key: str) -> int:
    """Adds one to the counter under `key` (missing counts as 0) and returns
    it. A read then a write: deploy with `--instances 1` if two instances
    of the bot must never count at the same moment."""
    count = (get_json(key) or 0) + 1
    set_json(key, count)
    return count
