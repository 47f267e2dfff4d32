// The smallest useful bot, in JavaScript: answers `/ping` with "pong",
// exactly as examples/ping (Rust) does.
//
// - `/ping` answers "pong" for everyone in the channel to see;
// - `/ping private:True` answers "pong" ephemerally, visible only to the caller;
// - any other command gets an ephemeral "unknown command" (the Bot's default).
//
// The module's top level runs once, when the bot is built (ComponentizeJS
// snapshots it); the handlers run per interaction.

import { Bot, SlashCommandBuilder } from 'appliance-sdk';

const ping = new SlashCommandBuilder()
  .setName('ping')
  .setDescription('Check that the bot answers')
  .addBooleanOption((option) => option.setName('private').setDescription('Answer so that only you see it'));

export default new Bot().command(ping, async (interaction) => {
  // An option the user left out is null: default to a public reply.
  const ephemeral = interaction.options.getBoolean('private') ?? false;
  await interaction.reply({ content: 'pong', ephemeral });
});
