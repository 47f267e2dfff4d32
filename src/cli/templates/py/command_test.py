"""The bot's answers, in plain CPython with the SDK's test host:
`python -m unittest` (no node, no Discord)."""

import unittest

from appliance_bot.testing import TestBot, TestInteraction

import app


class AppTest(unittest.TestCase):
    def setUp(self) -> None:
        self.bot = TestBot(app.bot)

    def test_hello_greets_the_caller_or_the_name(self) -> None:
        mine = self.bot.run(TestInteraction.command("hello").user("42", "alice"))
        self.assertEqual(mine.content, "Hello, alice!")
        theirs = self.bot.run(TestInteraction.command("hello").option("name", "bob"))
        self.assertEqual(theirs.content, "Hello, bob!")

    def test_the_button_edits_the_message(self) -> None:
        answer = self.bot.run(TestInteraction.button("again").user("42", "alice"))
        self.assertEqual(answer.to_dict(), {"type": 7, "data": {"content": "Hello again, alice!"}})


if __name__ == "__main__":
    unittest.main()
