"""The errors a handler raises on purpose, and the host's refusals."""

from __future__ import annotations


class BotError(Exception):
    """A handler's deliberate failure.

    The host shows the message to the user as an ephemeral error notice and
    writes it to the bot's log: it is the bot's answer, not a crash (no crash
    record, no crash-loop back-off). Any other exception is a bug: its
    traceback goes to the crash record (`appliance logs NAME --crashes`).
    """


class KvError(BotError):
    """The key-value store refused a call.

    `kind` is `invalid-key`, `quota-exceeded` or `unavailable`; the text is
    the host's explanation. Uncaught, it becomes the user's error notice
    (like the Rust SDK's `storage: ...`), not a crash.
    """

    def __init__(self, kind: str, detail: str) -> None:
        text = {"invalid-key": "invalid key", "quota-exceeded": "quota exceeded"}.get(
            kind, "storage unavailable"
        )
        super().__init__(f"storage: {text}: {detail}")
        self.kind = kind
        self.detail = detail


class DiscordError(BotError):
    """A Discord REST call got no answer (`kind`: `invalid-request`,
    `rate-limited`, `unauthorized`, `unavailable`). An answer with an error
    status is not an error: it comes back as a `DiscordResponse`."""

    def __init__(self, kind: str, detail: object) -> None:
        super().__init__(f"discord: {kind}: {detail}")
        self.kind = kind
        self.detail = detail


class GatewayError(BotError):
    """A gateway command was not sent (`kind`: `not-connected`,
    `rate-limited`, `invalid-request`)."""

    def __init__(self, kind: str, detail: object) -> None:
        super().__init__(f"gateway: {kind}: {detail}")
        self.kind = kind
        self.detail = detail
