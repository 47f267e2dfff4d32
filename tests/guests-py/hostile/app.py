"""A Python bot that misbehaves on purpose, for tests/it/py_bots.rs: each
command is one way a Python bot goes wrong, and the test checks that the
node contains it. Never deploy it for real.

- `/boom`: an uncaught exception two calls deep (a crash with a traceback);
- `/refuse`: a deliberate `BotError` (an error notice, not a crash);
- `/spin`: an endless loop (stopped by fuel);
- `/hog`: allocates until it cannot (stopped by the memory limit);
- `/defer`: defers, then answers (delivered as an edit of the deferral);
- `/served`: how many interactions this instance has served.
"""

from appliance_bot import Bot, BotError, Interaction, Response

bot = Bot()
served = 0


def explode(parts: dict) -> int:
    return parts["missing"]


def total(parts: dict) -> int:
    return explode(parts) + 1


@bot.command(description="Raise an exception")
def boom(interaction: Interaction) -> Response:
    return Response.message(str(total({"present": 1})))


@bot.command(description="Fail on purpose")
def refuse(interaction: Interaction) -> Response:
    raise BotError("this bot refuses, politely")


@bot.command(description="Loop forever")
def spin(interaction: Interaction) -> Response:
    n = 0
    while True:
        n += 1


@bot.command(description="Allocate without end")
def hog(interaction: Interaction) -> Response:
    blocks = []
    while True:
        blocks.append(bytearray(1 << 20))


@bot.command(description="Defer, then answer")
def defer(interaction: Interaction) -> None:
    interaction.defer(ephemeral=True)
    interaction.reply("done after deferring")


@bot.fallback
def counted(interaction: Interaction) -> str:
    global served
    served += 1
    return f"served {served}"
