// {{name}}: a Discord bot for appliance that reacts to events, in TypeScript.
//
// It answers `!ping` in any channel it can read with `pong` (a gateway
// event, delivered by the node, which holds the bot's gateway session), and
// `/seen` says how many messages this instance has seen. Deploy it with
// `--intents GUILD_MESSAGES,MESSAGE_CONTENT` and a token.

import { Bot, discord, SlashCommandBuilder } from 'appliance-sdk';

interface Message {
  channel_id: string;
  content: string;
  author: { id: string; bot?: boolean };
}

// Instance state: lasts while the node keeps this instance (use kv for a count that lasts).
let messages = 0;

export default new Bot()
  .on<Message>('MESSAGE_CREATE', (message) => {
    if (message.author.bot) return;
    messages += 1;
    if (message.content === '!ping') {
      discord.post(`/channels/${message.channel_id}/messages`, { content: 'pong' });
    }
  })
  .command(new SlashCommandBuilder().setName('seen').setDescription('How many messages has the bot seen?'), (interaction) =>
    interaction.reply({ content: `${messages} messages seen`, ephemeral: true }),
  );
