// {{name}}: a Discord bot for appliance, in JavaScript.
//
// `/hello [name]` greets the caller (or `name`) with a button that greets
// again. Build with `npm run build`, deploy the .wasm with `appliance deploy`.

import { ActionRowBuilder, Bot, ButtonBuilder, ButtonStyle, SlashCommandBuilder } from 'appliance-sdk';

const hello = new SlashCommandBuilder()
  .setName('hello')
  .setDescription('Say hello')
  .addStringOption((option) => option.setName('name').setDescription('Who to greet'));

function again() {
  return new ActionRowBuilder().addComponents(
    new ButtonBuilder().setCustomId('again').setLabel('Again').setStyle(ButtonStyle.Primary),
  );
}

export default new Bot()
  .command(hello, async (interaction) => {
    const name = interaction.options.getString('name') ?? interaction.displayName ?? 'you';
    await interaction.reply({ content: `Hello, ${name}!`, components: [again()] });
  })
  .component('again', async (interaction) => {
    await interaction.update({ content: `Hello again, ${interaction.displayName ?? 'you'}!`, components: [again()] });
  });
