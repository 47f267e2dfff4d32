"""The smallest useful bot, in Python: answers `/ping` with "pong".

The same bot as examples/ping (Rust), answer for answer:

- `/ping` answers `pong` for everyone in the channel to see;
- `/ping private:True` answers `pong` ephemerally, visible only to the caller;
- any other command gets an ephemeral "unknown command" (the SDK's default).

The node registers `/ping` with Discord when the bot is deployed with a
token (the command list comes from the decorator). Build and test, from
the repository root:

    python -m appliance_bot.build examples/ping-py/app.py -o ping.wasm
    python -m unittest discover -s examples/ping-py

(with guest-sdk/python on PYTHONPATH and componentize-py installed, see
guest-sdk/python/README.md).
"""

from typing import Annotated

from appliance_bot import Bot, Interaction, Response

bot = Bot()


@bot.command(description="Check that the bot answers")
def ping(
    interaction: Interaction,
    private: Annotated[bool, "Answer so that only you see it"] = False,
) -> Response:
    # An option the user left out takes the parameter's default: public.
    return Response.message("pong", ephemeral=private)
