// {{name}}: a Discord bot for appliance, in TypeScript.
//
// `/count [by]` adds to a per-user counter kept in the bot's key-value
// store, which lasts across instances, redeploys and restarts of the node.

import { Bot, type Interaction, SlashCommandBuilder, kv, log } from 'appliance-sdk';

const count = new SlashCommandBuilder()
  .setName('count')
  .setDescription('Add to your count')
  .addIntegerOption((option) => option.setName('by').setDescription('How much to add (default 1)').setMinValue(1));

export default new Bot().command(count, async (interaction: Interaction) => {
  const user = interaction.user;
  if (!user) {
    await interaction.reply({ content: "I can't tell who you are.", ephemeral: true });
    return;
  }
  const total = kv.incr(`count:${user.id}`, interaction.options.getInteger('by') ?? 1);
  log.info(`user ${user.id} counted to ${total}`);
  await interaction.reply(`${interaction.displayName ?? 'you'}, your count is ${total}`);
});
