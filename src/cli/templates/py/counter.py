"""{{name}}: a Discord bot for appliance, in Python.

`/count` adds one to the caller's count, kept in the node's key-value store
(it survives restarts and redeploys); `/reset` sets it back to 0.
Build it with `python -m appliance_bot.build app.py -o {{name}}.wasm`
(see README.md); test it with `python -m unittest`.
"""

from appliance_bot import Bot, Interaction, Response, kv, log

bot = Bot()


def count_key(user_id: str) -> str:
    return f"count:{user_id}"


@bot.command(description="Add one to your count")
def count(interaction: Interaction) -> Response:
    user_id = interaction.user_id
    if user_id is None:
        return Response.message("I can't tell who you are.", ephemeral=True)
    total = kv.incr(count_key(user_id))
    log.info(f"user {user_id} counted to {total}")
    times = "time" if total == 1 else "times"
    return Response.message(f"{interaction.display_name}, you have counted {total} {times}")


@bot.command(description="Set your count back to 0")
def reset(interaction: Interaction) -> Response:
    if interaction.user_id is not None:
        kv.delete(count_key(interaction.user_id))
    return Response.message("Your count is back to 0.", ephemeral=True)
