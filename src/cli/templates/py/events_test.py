"""The bot's event handler and command, in plain CPython with the SDK's test
host: `python -m unittest` (no node, no Discord)."""

import unittest

from appliance_bot.testing import TestBot, TestInteraction

import app


class AppTest(unittest.TestCase):
    def setUp(self) -> None:
        self.bot = TestBot(app.bot)

    def test_ping_gets_pong_and_messages_are_counted(self) -> None:
        self.bot.event("MESSAGE_CREATE", {"channel_id": "5", "content": "ping", "author": {"id": "42"}})
        self.bot.event("MESSAGE_CREATE", {"channel_id": "5", "content": "hi", "author": {"id": "42"}})
        self.assertEqual(self.bot.host.requests, [("POST", "/channels/5/messages", b'{"content":"pong"}')])
        answer = self.bot.run(TestInteraction.command("stats"))
        self.assertEqual(answer.content, "I have seen 2 messages.")


if __name__ == "__main__":
    unittest.main()
