// A per-user counter, in TypeScript: the host's key-value store and log,
// and durable state (kv) versus instance state (module variables). It
// answers exactly as examples/counter (Rust) does, on the same keys.
//
// - `/count` adds one to the caller's count and answers, for example,
//   "alice, you have counted 3 times";
// - `/reset` deletes the caller's count (answered ephemerally);
// - any other command gets an ephemeral "unknown command".
//
// Each user's count lives under `count:{user_id}` in the bot's own keyspace,
// so it survives restarts, redeploys and rollbacks. `served` counts the
// commands this instance has served: it is lost whenever the node drops the
// instance (after a crash, on redeploy, when idle), which is fine for a
// statistic and wrong for a user's count.

import { Bot, type ChatInputCommandInteraction, SlashCommandBuilder, kv, log } from 'appliance-sdk';

let served = 0;

/** Where a user's count is kept. */
function countKey(userId: string): string {
  return `count:${userId}`;
}

async function count(interaction: ChatInputCommandInteraction): Promise<void> {
  served += 1;
  // Discord always names the caller: `member.user` in a server, `user` in a
  // direct message. Without one there is nobody to count for.
  const user = interaction.user;
  if (!user) {
    await interaction.reply({ content: "I can't tell who you are.", ephemeral: true });
    return;
  }
  // A storage error (say, a full quota) is a KvError: the user gets an
  // error notice, the owner a log line.
  const total = kv.incr(countKey(user.id));
  log.info(`user ${user.id} counted to ${total} (${served} commands served by this instance)`);
  const times = total === 1 ? 'time' : 'times';
  await interaction.reply(`${interaction.displayName ?? 'you'}, you have counted ${total} ${times}`);
}

async function reset(interaction: ChatInputCommandInteraction): Promise<void> {
  served += 1;
  const user = interaction.user;
  if (!user) {
    await interaction.reply({ content: "I can't tell who you are.", ephemeral: true });
    return;
  }
  kv.delete(countKey(user.id));
  log.info(`user ${user.id} reset their count`);
  await interaction.reply({ content: 'Your count is back to 0.', ephemeral: true });
}

export default new Bot()
  .command(new SlashCommandBuilder().setName('count').setDescription('Add one to your count'), count)
  .command(new SlashCommandBuilder().setName('reset').setDescription('Set your count back to 0'), reset);
