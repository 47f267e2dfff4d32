"""The bot's answers and its KV data, in plain CPython with the SDK's test
host: `python -m unittest` (no node, no Discord)."""

import unittest

from appliance_bot.testing import TestBot, TestInteraction

import app


class AppTest(unittest.TestCase):
    def setUp(self) -> None:
        self.bot = TestBot(app.bot)

    def test_counts_per_user_in_the_store(self) -> None:
        first = self.bot.run(TestInteraction.command("count").user("42", "alice"))
        self.assertEqual(first.content, "alice, you have counted 1 time")
        self.bot.run(TestInteraction.command("count").user("42", "alice"))
        self.assertEqual(self.bot.kv["count:42"], b"2")

    def test_reset_deletes_the_count(self) -> None:
        self.bot.kv["count:42"] = b"7"
        answer = self.bot.run(TestInteraction.command("reset").user("42", "alice"))
        self.assertTrue(answer.is_ephemeral)
        self.assertNotIn("count:42", self.bot.kv)


if __name__ == "__main__":
    unittest.main()
