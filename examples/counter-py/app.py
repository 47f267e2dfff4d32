"""A per-user counter, in Python: the host's key-value store and log, and
the difference between durable state (`kv`) and instance state (globals).

The same bot as examples/counter (Rust), answer for answer and key for key:

- `/count` adds one to the caller's count and answers, for example,
  "alice, you have counted 3 times";
- `/reset` deletes the caller's count (answered ephemerally);
- any other command gets an ephemeral "unknown command".

Each user's count lives under `count:{user_id}` in the bot's own keyspace
(decimal text, as the Rust SDK stores it), so it survives restarts,
redeploys and rollbacks. `served` counts the commands this instance has
served: it is lost whenever the node drops the instance, which is fine for
a statistic and wrong for a user's count. Every count goes to the bot's log
(`appliance logs NAME`).

    python -m appliance_bot.build examples/counter-py/app.py -o counter.wasm
    python -m unittest discover -s examples/counter-py
"""

from appliance_bot import Bot, Interaction, Response, kv, log

bot = Bot()

# Instance state: kept only while this instance lives.
served = 0


def count_key(user_id: str) -> str:
    """Where a user's count is kept."""
    return f"count:{user_id}"


@bot.command(description="Add one to your count")
def count(interaction: Interaction) -> Response:
    global served
    served += 1
    # Discord always names the caller: `member.user` in a server, `user` in
    # a direct message. Without one there is nobody to count for.
    user_id = interaction.user_id
    if user_id is None:
        return Response.message("I can't tell who you are.", ephemeral=True)
    # A storage error (say, a full quota) raised here becomes the user's
    # error notice, like `?` in the Rust example.
    total = kv.incr(count_key(user_id))
    name = interaction.display_name or "you"
    log.info(f"user {user_id} counted to {total} ({served} commands served by this instance)")
    times = "time" if total == 1 else "times"
    return Response.message(f"{name}, you have counted {total} {times}")


@bot.command(description="Set your count back to 0")
def reset(interaction: Interaction) -> Response:
    global served
    served += 1
    user_id = interaction.user_id
    if user_id is None:
        return Response.message("I can't tell who you are.", ephemeral=True)
    kv.delete(count_key(user_id))
    log.info(f"user {user_id} reset their count")
    return Response.message("Your count is back to 0.", ephemeral=True)
