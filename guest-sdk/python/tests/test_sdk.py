"""The SDK in plain CPython: `python -m unittest discover -s guest-sdk/python/tests`
(with guest-sdk/python on PYTHONPATH)."""

import json
import unittest
from typing import Annotated, Optional

from appliance_bot import (
    ActionRow,
    Bot,
    BotError,
    Button,
    Embed,
    Interaction,
    KvError,
    Response,
    User,
    kv,
)
from appliance_bot.testing import TestBot, TestInteraction


def make_bot() -> Bot:
    bot = Bot()

    @bot.command(description="Echo text")
    def echo(
        interaction: Interaction,
        text: Annotated[str, "What to say"],
        times: Annotated[int, "How often"] = 1,
        who: Optional[User] = None,
    ) -> str:
        return " ".join([text] * times) + (f" to {who}" if who else "")

    @bot.command()
    def card(interaction: Interaction) -> None:
        """Show a card"""
        interaction.reply(
            embeds=[Embed(title="Stats", color=0x00FF00).field("Users", "3", inline=True)],
            components=[ActionRow(Button("Again", custom_id="again:1"))],
            ephemeral=True,
        )

    @bot.command(description="Slow work")
    def slow(interaction: Interaction) -> Response:
        interaction.defer()
        interaction.follow_up("more")
        return interaction.reply("done")

    @bot.command(description="Needs a name")
    def greet(interaction: Interaction) -> str:
        return "hi " + interaction.options.get_string("name", required=True)

    @bot.command(description="Store too much")
    def full(interaction: Interaction) -> str:
        kv.set("", b"x")
        return "unreachable"

    @bot.component("again:", prefix=True)
    def again(interaction: Interaction) -> Response:
        return Response.update(f"again {interaction.custom_id.split(':')[1]}")

    @bot.user_command("Wave")
    def wave(interaction: Interaction) -> str:
        return "wave"

    return bot


class SdkTest(unittest.TestCase):
    def setUp(self) -> None:
        self.bot = TestBot(make_bot())

    def test_options_come_from_the_signature(self) -> None:
        echo = self.bot.commands()[0]
        self.assertEqual(
            echo,
            {
                "type": 1,
                "name": "echo",
                "description": "Echo text",
                "options": [
                    {"type": 3, "name": "text", "description": "What to say", "required": True},
                    {"type": 4, "name": "times", "description": "How often", "required": False},
                    {"type": 6, "name": "who", "description": "who", "required": False},
                ],
            },
        )
        self.assertEqual(self.bot.commands()[1]["description"], "Show a card")
        self.assertEqual(self.bot.commands()[-1], {"type": 2, "name": "Wave"})
        answer = self.bot.run(TestInteraction.command("echo").option("text", "hi").option("times", 2))
        self.assertEqual(answer.content, "hi hi")

    def test_a_missing_required_option_is_a_bot_error(self) -> None:
        with self.assertRaisesRegex(BotError, "the option 'name' is required"):
            self.bot.run(TestInteraction.command("greet"))
        with self.assertRaisesRegex(BotError, "not of type string"):
            self.bot.run(TestInteraction.command("greet").option("name", 3))

    def test_embeds_components_and_reply(self) -> None:
        answer = self.bot.run(TestInteraction.command("card"))
        self.assertEqual(
            json.loads(answer.to_json()),
            {
                "type": 4,
                "data": {
                    "embeds": [{"title": "Stats", "color": 65280, "fields": [{"name": "Users", "value": "3", "inline": True}]}],
                    "components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "Again", "custom_id": "again:1"}]}],
                    "flags": 64,
                },
            },
        )
        self.assertEqual(self.bot.run(TestInteraction.button("again:7")).to_dict(), {"type": 7, "data": {"content": "again 7"}})

    def test_defer_then_follow_up_and_reply(self) -> None:
        answer = self.bot.run(TestInteraction.command("slow"))
        self.assertEqual(self.bot.host.responded, [{"type": 5}])
        self.assertEqual(self.bot.host.requests, [("POST", "/webhooks/2/interaction-token", b'{"content":"more"}')])
        self.assertEqual(answer.content, "done")

    def test_kv_refusals_are_bot_errors(self) -> None:
        with self.assertRaises(KvError) as refused:
            self.bot.run(TestInteraction.command("full"))
        self.assertTrue(str(refused.exception).startswith("storage: invalid key"))

    def test_declaring_a_command_twice_is_refused(self) -> None:
        bot = Bot()
        bot.command(description="a")(lambda interaction: "a")
        with self.assertRaisesRegex(ValueError, "declared twice"):
            bot.command(name="<lambda>", description="b")(lambda interaction: "b")

        def bad(interaction: Interaction, when: list) -> str:
            return ""

        with self.assertRaisesRegex(TypeError, "parameter 'when' has type"):
            bot.command(description="d")(bad)


if __name__ == "__main__":
    unittest.main()
