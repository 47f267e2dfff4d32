"""The counter's answers and its KV data, in plain CPython with the SDK's
test host: `python -m unittest discover -s examples/counter-py`
(guest-sdk/python on PYTHONPATH). The same cases as examples/counter's."""

import unittest

from appliance_bot.testing import TestBot, TestInteraction

import app


def count(user: str, name: str) -> TestInteraction:
    return TestInteraction.command("count").user(user, name).guild("1")


class CounterTest(unittest.TestCase):
    def setUp(self) -> None:
        app.served = 0
        self.bot = TestBot(app.bot)

    def test_counts_per_user_in_the_store(self) -> None:
        first = self.bot.run(count("42", "alice"))
        self.assertEqual(first.content, "alice, you have counted 1 time")
        self.assertFalse(first.is_ephemeral)
        self.assertEqual(self.bot.run(count("42", "alice")).content, "alice, you have counted 2 times")
        self.assertEqual(self.bot.run(count("43", "bob")).content, "bob, you have counted 1 time")
        # Decimal text, as the Rust SDK's kv::incr stores it.
        self.assertEqual(self.bot.kv, {"count:42": b"2", "count:43": b"1"})
        self.assertEqual(self.bot.logs[-1].message, "user 43 counted to 1 (3 commands served by this instance)")

    def test_reset_deletes_the_count(self) -> None:
        self.bot.kv["count:42"] = b"7"
        answer = self.bot.run(TestInteraction.command("reset").user("42", "alice"))
        self.assertEqual(answer.content, "Your count is back to 0.")
        self.assertTrue(answer.is_ephemeral)
        self.assertNotIn("count:42", self.bot.kv)
        self.assertEqual(self.bot.run(count("42", "alice")).content, "alice, you have counted 1 time")

    def test_anything_else_is_an_unknown_command(self) -> None:
        answer = self.bot.run(TestInteraction.command("ping"))
        self.assertEqual(answer.content, "unknown command")
        self.assertTrue(answer.is_ephemeral)
        self.assertEqual(self.bot.kv, {})


if __name__ == "__main__":
    unittest.main()
