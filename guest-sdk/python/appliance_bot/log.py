"""Leveled log lines, stored per bot and shown by `appliance logs NAME`.

`print()` works too (stdout lines are logged at info, stderr at warn).
"""

from __future__ import annotations

from . import _host


def _log(level: str, message: object) -> None:
    _host.host().log(level, str(message))


def trace(message: object) -> None:
    _log("trace", message)


def debug(message: object) -> None:
    _log("debug", message)


def info(message: object) -> None:
    _log("info", message)


def warn(message: object) -> None:
    _log("warn", message)


def error(message: object) -> None:
    _log("error", message)
