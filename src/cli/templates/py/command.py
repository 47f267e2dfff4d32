"""{{name}}: a Discord bot for appliance, in Python.

`/hello [name]` greets someone, with a button that says hello again.
Build it with `python -m appliance_bot.build app.py -o {{name}}.wasm`
(see README.md); test it with `python -m unittest`.
"""

from typing import Annotated

from appliance_bot import ActionRow, Bot, Button, Interaction, Response

bot = Bot()


@bot.command(description="Say hello")
def hello(
    interaction: Interaction,
    name: Annotated[str, "Who to greet (you, if left out)"] = "",
) -> Response:
    who = name or interaction.display_name or "you"
    again = ActionRow(Button("Again", custom_id="again"))
    return Response.message(f"Hello, {who}!", components=[again])


@bot.component("again")
def again(interaction: Interaction) -> Response:
    # The button edits the message it is on (type 7).
    return Response.update(f"Hello again, {interaction.display_name or 'you'}!")
