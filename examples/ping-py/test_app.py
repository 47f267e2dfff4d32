"""The ping bot's answers, in plain CPython with the SDK's test host:
`python -m unittest discover -s examples/ping-py` (guest-sdk/python on
PYTHONPATH). The same cases as examples/ping's Rust tests."""

import unittest

from appliance_bot.testing import TestBot, TestInteraction

import app


class PingTest(unittest.TestCase):
    def setUp(self) -> None:
        self.bot = TestBot(app.bot)

    def test_ping_answers_pong_for_everyone(self) -> None:
        answer = self.bot.run(TestInteraction.command("ping"))
        self.assertEqual(answer.to_json(), b'{"type":4,"data":{"content":"pong"}}')

    def test_private_ping_is_ephemeral(self) -> None:
        answer = self.bot.run(TestInteraction.command("ping").option("private", True))
        self.assertEqual(answer.to_json(), b'{"type":4,"data":{"content":"pong","flags":64}}')
        public = self.bot.run(TestInteraction.command("ping").option("private", False))
        self.assertFalse(public.is_ephemeral)

    def test_anything_else_gets_the_default(self) -> None:
        other = self.bot.run(TestInteraction.command("slow").option("ms", 0))
        self.assertEqual(other.to_json(), b'{"type":4,"data":{"content":"unknown command","flags":64}}')
        button = self.bot.run(TestInteraction.button("again"))
        self.assertEqual(button.content, "this button is no longer handled")
        self.assertTrue(button.is_ephemeral)

    def test_declares_ping_for_registration(self) -> None:
        (ping,) = self.bot.commands()
        self.assertEqual(ping["name"], "ping")
        self.assertEqual(ping["options"][0]["name"], "private")
        self.assertEqual(ping["options"][0]["type"], 5)
        self.assertFalse(ping["options"][0]["required"])


if __name__ == "__main__":
    unittest.main()
