"""{{name}}: a Discord bot for appliance, in Python, that reacts to events.

It answers "pong" to any message that says "ping" (gateway event
MESSAGE_CREATE), and `/stats` tells how many messages it has seen.
Deploy it with `--intents GUILDS,GUILD_MESSAGES,MESSAGE_CONTENT` and a token.
Build it with `python -m appliance_bot.build app.py -o {{name}}.wasm`.
"""

from appliance_bot import Bot, Event, Interaction, Response, discord, kv

bot = Bot()


@bot.event("MESSAGE_CREATE")
def on_message(event: Event) -> None:
    message = event.json()
    if message.get("author", {}).get("bot"):
        return
    kv.incr("messages")
    if message.get("content", "").strip().lower() == "ping":
        discord.post(f"/channels/{message['channel_id']}/messages", {"content": "pong"})


@bot.command(description="How many messages the bot has seen")
def stats(interaction: Interaction) -> Response:
    seen = kv.get_json("messages") or 0
    return Response.message(f"I have seen {seen} messages.", ephemeral=True)
