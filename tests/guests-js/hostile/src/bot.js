// A JavaScript bot that misbehaves on command, for the tests of
// tests/it/js_bots.rs: an uncaught exception (its stack must reach the
// crash record), a user-facing BotError, a runaway loop (fuel) and a memory
// hog (the memory limit).

import { Bot, BotError, log } from 'appliance-sdk';

function parseOrder(text) {
  // A bug: `order.items` is undefined.
  const order = JSON.parse(text);
  return order.items.length;
}

function handleOrder(interaction) {
  return parseOrder(interaction.options.getString('order') ?? '{}');
}

const bot = new Bot();

bot.command({ name: 'throw', description: 'An uncaught TypeError, two calls deep' }, async (interaction) => {
  log.info('about to fail');
  const count = handleOrder(interaction);
  await interaction.reply(`${count} items`);
});

bot.command({ name: 'refuse', description: 'A BotError: an answer for the user, not a crash' }, () => {
  throw new BotError('the order book is closed');
});

bot.command({ name: 'spin', description: 'Loops forever' }, () => {
  let n = 0;
  for (;;) n = (n + 1) % 7;
});

bot.command({ name: 'hog', description: 'Allocates until something stops it' }, () => {
  const kept = [];
  for (;;) kept.push(new Float64Array(1 << 20).fill(kept.length));
});

bot.command({ name: 'ok', description: 'Answers' }, (interaction) => interaction.reply('still here'));

export default bot;
