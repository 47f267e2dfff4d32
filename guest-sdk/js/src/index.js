// appliance-sdk for JavaScript and TypeScript: Discord bots that run as
// WebAssembly components on an appliance node (world `command-event-bot` of
// guest-sdk/wit/world.wit), with an API shaped like discord.js.
//
// A bot module builds a `Bot` at its top level (ComponentizeJS runs that
// once, at build time, and snapshots the result) and exports it as default;
// `appliance-js build` wraps it in the component's exports.

import * as witKv from 'appliance:bot/kv@0.1.0';
import * as witLog from 'appliance:bot/log@0.1.0';
import * as witDiscord from 'appliance:bot/discord@0.1.0';
import * as witInteraction from 'appliance:bot/interaction@0.1.0';
import * as witGateway from 'appliance:bot/gateway@0.1.0';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------- errors

/** An error meant for the bot's user: the node shows its message in an
 * ephemeral "This bot could not answer: ..." notice and logs it. Any other
 * exception is a crash: its stack goes to the bot's crash record. */
export class BotError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'BotError';
  }
}

/** A key-value call the host refused (`kind`: invalid-key, quota-exceeded, unavailable). */
export class KvError extends BotError {
  constructor(kind, detail) {
    super(`storage: ${kind}: ${detail}`);
    this.name = 'KvError';
    this.kind = kind;
    this.detail = detail;
  }
}

/** A Discord REST call without an answer, or with an error status. */
export class DiscordError extends BotError {
  constructor(message, { kind, status, body } = {}) {
    super(message);
    this.name = 'DiscordError';
    this.kind = kind;
    this.status = status;
    this.body = body;
  }
}

/** A gateway command the host did not send. */
export class GatewayError extends BotError {
  constructor(kind, detail) {
    super(`gateway: ${kind}: ${detail}`);
    this.name = 'GatewayError';
    this.kind = kind;
    this.detail = detail;
  }
}

/** The payload of a WIT `err` an import threw (jco's ComponentError). */
function witError(e) {
  if (e && typeof e === 'object' && 'payload' in e) return e.payload;
  throw e;
}

// ---------------------------------------------------------------- kv

function bytesOf(value) {
  if (typeof value === 'string') return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new TypeError('kv values are strings or Uint8Arrays; use kv.setJSON for objects');
}

function kvCall(call) {
  try {
    return call();
  } catch (e) {
    const payload = witError(e);
    throw new KvError(payload.tag, payload.val);
  }
}

/** The bot's own key-value store, kept by the node (durable once a call returns). */
export const kv = {
  /** The bytes under `key`, or undefined. */
  get(key) {
    return kvCall(() => witKv.get(key));
  },
  /** The value under `key` as UTF-8 text, or undefined. */
  getString(key) {
    const bytes = kv.get(key);
    return bytes === undefined ? undefined : decoder.decode(bytes);
  },
  /** The value under `key` parsed as JSON, or undefined. */
  getJSON(key) {
    const text = kv.getString(key);
    return text === undefined ? undefined : JSON.parse(text);
  },
  /** Stores a string (as UTF-8) or bytes under `key`. */
  set(key, value) {
    kvCall(() => witKv.set(key, bytesOf(value)));
  },
  /** Stores `value` as JSON (the Rust SDK's `set_json`, so both read it). */
  setJSON(key, value) {
    kv.set(key, JSON.stringify(value));
  },
  /** Removes `key` (a missing key is fine). */
  delete(key) {
    kvCall(() => witKv.delete(key));
  },
  /** The keys starting with `prefix`, in byte order. */
  list(prefix = '') {
    return kvCall(() => witKv.listKeys(prefix));
  },
  /** Adds `by` to the number stored under `key` (0 if none) and returns it. */
  incr(key, by = 1) {
    const current = kv.getJSON(key) ?? 0;
    if (typeof current !== 'number') {
      throw new KvError('invalid-value', `${key} does not hold a number`);
    }
    const next = current + by;
    kv.setJSON(key, next);
    return next;
  },
};

// ---------------------------------------------------------------- log

function logAt(level) {
  return (...parts) => witLog.log(level, parts.map((p) => (typeof p === 'string' ? p : safeString(p))).join(' '));
}

function safeString(value) {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Leveled log lines, shown by `appliance logs NAME`. */
export const log = {
  trace: logAt('trace'),
  debug: logAt('debug'),
  info: logAt('info'),
  warn: logAt('warn'),
  error: logAt('error'),
};

// ---------------------------------------------------------------- discord REST

/** Discord's REST API as this bot (the node adds the token and keeps the rate limits). */
export const discord = {
  /** Sends one request; resolves to `{ status, body, json() }` whatever the status. */
  request(method, path, body) {
    const payload = body === undefined ? undefined : typeof body === 'string' || body instanceof Uint8Array ? bytesOf(body) : encoder.encode(JSON.stringify(body));
    let answer;
    try {
      answer = witDiscord.request(method, path, payload);
    } catch (e) {
      const error = witError(e);
      throw new DiscordError(`Discord: ${error.tag}: ${error.val}`, { kind: error.tag });
    }
    return {
      status: answer.status,
      body: answer.body,
      text: () => decoder.decode(answer.body),
      json: () => (answer.body.length ? JSON.parse(decoder.decode(answer.body)) : undefined),
    };
  },
  /** Like `request`, but an error status throws a DiscordError; resolves to the parsed JSON. */
  call(method, path, body) {
    const answer = discord.request(method, path, body);
    if (answer.status >= 400) {
      throw new DiscordError(`Discord answered ${method} ${path} with ${answer.status}: ${answer.text().slice(0, 300)}`, {
        kind: 'status',
        status: answer.status,
        body: answer.body,
      });
    }
    return answer.json();
  },
  get: (path) => discord.call('GET', path),
  post: (path, body) => discord.call('POST', path, body),
  patch: (path, body) => discord.call('PATCH', path, body),
  put: (path, body) => discord.call('PUT', path, body),
  delete: (path) => discord.call('DELETE', path),
};

// ---------------------------------------------------------------- gateway

function gatewayCall(call) {
  try {
    call();
  } catch (e) {
    const error = witError(e);
    throw new GatewayError(error.tag, error.val);
  }
}

/** Commands over the bot's gateway sessions (bots deployed with `--intents`). */
export const gateway = {
  /** Opcode 3: `{ since, activities, status, afk }`. */
  updatePresence(presence) {
    gatewayCall(() => witGateway.updatePresence(encoder.encode(JSON.stringify(presence))));
  },
  /** Opcode 8: `{ guild_id, query, limit }`; members arrive as GUILD_MEMBERS_CHUNK events. */
  requestGuildMembers(request) {
    gatewayCall(() => witGateway.requestGuildMembers(encoder.encode(JSON.stringify(request))));
  },
};

// ---------------------------------------------------------------- builders

function toJSON(value) {
  return value && typeof value.toJSON === 'function' ? value.toJSON() : value;
}

/** Discord's interaction types. */
export const InteractionType = Object.freeze({
  Ping: 1,
  ApplicationCommand: 2,
  MessageComponent: 3,
  ApplicationCommandAutocomplete: 4,
  ModalSubmit: 5,
});

/** Discord's interaction response types. */
export const InteractionResponseType = Object.freeze({
  Pong: 1,
  ChannelMessageWithSource: 4,
  DeferredChannelMessageWithSource: 5,
  DeferredMessageUpdate: 6,
  UpdateMessage: 7,
  ApplicationCommandAutocompleteResult: 8,
  Modal: 9,
});

export const ApplicationCommandType = Object.freeze({ ChatInput: 1, User: 2, Message: 3 });

export const ApplicationCommandOptionType = Object.freeze({
  Subcommand: 1,
  SubcommandGroup: 2,
  String: 3,
  Integer: 4,
  Boolean: 5,
  User: 6,
  Channel: 7,
  Role: 8,
  Mentionable: 9,
  Number: 10,
  Attachment: 11,
});

export const ComponentType = Object.freeze({
  ActionRow: 1,
  Button: 2,
  StringSelect: 3,
  TextInput: 4,
  UserSelect: 5,
  RoleSelect: 6,
  MentionableSelect: 7,
  ChannelSelect: 8,
  Label: 18,
});

export const ButtonStyle = Object.freeze({ Primary: 1, Secondary: 2, Success: 3, Danger: 4, Link: 5 });
export const TextInputStyle = Object.freeze({ Short: 1, Paragraph: 2 });
export const MessageFlags = Object.freeze({ SuppressEmbeds: 4, Ephemeral: 64 });

/** An option of a slash command (`addStringOption((o) => o.setName(...))`). */
export class SlashCommandOptionBuilder {
  constructor(type) {
    this.data = { type, name: undefined, description: undefined };
  }
  setName(name) {
    this.data.name = name;
    return this;
  }
  setDescription(description) {
    this.data.description = description;
    return this;
  }
  setRequired(required = true) {
    this.data.required = required;
    return this;
  }
  setAutocomplete(autocomplete = true) {
    this.data.autocomplete = autocomplete;
    return this;
  }
  /** Choices as `{ name, value }` objects. */
  addChoices(...choices) {
    this.data.choices = [...(this.data.choices ?? []), ...choices.flat()];
    return this;
  }
  setMinValue(min) {
    this.data.min_value = min;
    return this;
  }
  setMaxValue(max) {
    this.data.max_value = max;
    return this;
  }
  setMinLength(min) {
    this.data.min_length = min;
    return this;
  }
  setMaxLength(max) {
    this.data.max_length = max;
    return this;
  }
  addChannelTypes(...types) {
    this.data.channel_types = [...(this.data.channel_types ?? []), ...types.flat()];
    return this;
  }
  toJSON() {
    return { ...this.data };
  }
}

const optionAdders = {
  addStringOption: ApplicationCommandOptionType.String,
  addIntegerOption: ApplicationCommandOptionType.Integer,
  addBooleanOption: ApplicationCommandOptionType.Boolean,
  addUserOption: ApplicationCommandOptionType.User,
  addChannelOption: ApplicationCommandOptionType.Channel,
  addRoleOption: ApplicationCommandOptionType.Role,
  addMentionableOption: ApplicationCommandOptionType.Mentionable,
  addNumberOption: ApplicationCommandOptionType.Number,
  addAttachmentOption: ApplicationCommandOptionType.Attachment,
};

class OptionsHolder {
  addOption(type, build) {
    const option = new SlashCommandOptionBuilder(type);
    build(option);
    (this.data.options ??= []).push(option);
    return this;
  }
}
for (const [method, type] of Object.entries(optionAdders)) {
  OptionsHolder.prototype[method] = function (build) {
    return this.addOption(type, build);
  };
}

/** A subcommand (`addSubcommand((s) => s.setName(...).addStringOption(...))`). */
export class SlashCommandSubcommandBuilder extends OptionsHolder {
  constructor(type = ApplicationCommandOptionType.Subcommand) {
    super();
    this.data = { type, name: undefined, description: undefined };
  }
  setName(name) {
    this.data.name = name;
    return this;
  }
  setDescription(description) {
    this.data.description = description;
    return this;
  }
  addSubcommand(build) {
    const sub = new SlashCommandSubcommandBuilder();
    build(sub);
    (this.data.options ??= []).push(sub);
    return this;
  }
  toJSON() {
    const { options, ...rest } = this.data;
    return options ? { ...rest, options: options.map(toJSON) } : { ...rest };
  }
}

/** A slash command's registration: name, description, options. */
export class SlashCommandBuilder extends OptionsHolder {
  constructor() {
    super();
    this.data = { type: ApplicationCommandType.ChatInput, name: undefined, description: undefined };
  }
  setName(name) {
    this.data.name = name;
    return this;
  }
  setDescription(description) {
    this.data.description = description;
    return this;
  }
  /** Permission bits as a string or bigint (`"0"`: admins only). */
  setDefaultMemberPermissions(permissions) {
    this.data.default_member_permissions = permissions === null ? null : String(permissions);
    return this;
  }
  setNSFW(nsfw = true) {
    this.data.nsfw = nsfw;
    return this;
  }
  addSubcommand(build) {
    const sub = new SlashCommandSubcommandBuilder();
    build(sub);
    (this.data.options ??= []).push(sub);
    return this;
  }
  addSubcommandGroup(build) {
    const group = new SlashCommandSubcommandBuilder(ApplicationCommandOptionType.SubcommandGroup);
    build(group);
    (this.data.options ??= []).push(group);
    return this;
  }
  toJSON() {
    const { options, ...rest } = this.data;
    return options ? { ...rest, options: options.map(toJSON) } : { ...rest };
  }
}

/** A user or message command (right-click menu). */
export class ContextMenuCommandBuilder {
  constructor() {
    this.data = { type: ApplicationCommandType.User, name: undefined };
  }
  setName(name) {
    this.data.name = name;
    return this;
  }
  setType(type) {
    this.data.type = type;
    return this;
  }
  toJSON() {
    return { ...this.data };
  }
}

/** An embed, as discord.js builds it. */
export class EmbedBuilder {
  constructor(data = {}) {
    this.data = { ...data };
  }
  setTitle(title) {
    this.data.title = title;
    return this;
  }
  setDescription(description) {
    this.data.description = description;
    return this;
  }
  setURL(url) {
    this.data.url = url;
    return this;
  }
  /** A number (0xRRGGBB) or a `#rrggbb` string. */
  setColor(color) {
    this.data.color = typeof color === 'string' ? parseInt(color.replace(/^#/, ''), 16) : color;
    return this;
  }
  setTimestamp(timestamp = Date.now()) {
    this.data.timestamp = new Date(timestamp).toISOString();
    return this;
  }
  setFooter(footer) {
    this.data.footer = { text: footer.text, icon_url: footer.iconURL };
    return this;
  }
  setAuthor(author) {
    this.data.author = { name: author.name, url: author.url, icon_url: author.iconURL };
    return this;
  }
  setImage(url) {
    this.data.image = { url };
    return this;
  }
  setThumbnail(url) {
    this.data.thumbnail = { url };
    return this;
  }
  addFields(...fields) {
    this.data.fields = [...(this.data.fields ?? []), ...fields.flat()];
    return this;
  }
  toJSON() {
    return { ...this.data };
  }
}

/** A row of buttons, or one select menu (or, in a modal, a text input). */
export class ActionRowBuilder {
  constructor() {
    this.components = [];
  }
  addComponents(...components) {
    this.components.push(...components.flat());
    return this;
  }
  toJSON() {
    return { type: ComponentType.ActionRow, components: this.components.map(toJSON) };
  }
}

export class ButtonBuilder {
  constructor() {
    this.data = { type: ComponentType.Button, style: ButtonStyle.Primary };
  }
  setCustomId(customId) {
    this.data.custom_id = customId;
    return this;
  }
  setLabel(label) {
    this.data.label = label;
    return this;
  }
  setStyle(style) {
    this.data.style = style;
    return this;
  }
  setURL(url) {
    this.data.url = url;
    return this;
  }
  /** A unicode emoji (`"👍"`) or `{ id, name }`. */
  setEmoji(emoji) {
    this.data.emoji = typeof emoji === 'string' ? { name: emoji } : emoji;
    return this;
  }
  setDisabled(disabled = true) {
    this.data.disabled = disabled;
    return this;
  }
  toJSON() {
    return { ...this.data };
  }
}

export class StringSelectMenuBuilder {
  constructor() {
    this.data = { type: ComponentType.StringSelect, options: [] };
  }
  setCustomId(customId) {
    this.data.custom_id = customId;
    return this;
  }
  setPlaceholder(placeholder) {
    this.data.placeholder = placeholder;
    return this;
  }
  setMinValues(n) {
    this.data.min_values = n;
    return this;
  }
  setMaxValues(n) {
    this.data.max_values = n;
    return this;
  }
  /** Options as `{ label, value, description?, default? }`. */
  addOptions(...options) {
    this.data.options.push(...options.flat());
    return this;
  }
  toJSON() {
    return { ...this.data };
  }
}

export class TextInputBuilder {
  constructor() {
    this.data = { type: ComponentType.TextInput, style: TextInputStyle.Short };
  }
  setCustomId(customId) {
    this.data.custom_id = customId;
    return this;
  }
  setLabel(label) {
    this.data.label = label;
    return this;
  }
  setStyle(style) {
    this.data.style = style;
    return this;
  }
  setPlaceholder(placeholder) {
    this.data.placeholder = placeholder;
    return this;
  }
  setRequired(required = true) {
    this.data.required = required;
    return this;
  }
  setValue(value) {
    this.data.value = value;
    return this;
  }
  setMinLength(n) {
    this.data.min_length = n;
    return this;
  }
  setMaxLength(n) {
    this.data.max_length = n;
    return this;
  }
  toJSON() {
    return { ...this.data };
  }
}

export class ModalBuilder {
  constructor() {
    this.data = { custom_id: undefined, title: undefined, components: [] };
  }
  setCustomId(customId) {
    this.data.custom_id = customId;
    return this;
  }
  setTitle(title) {
    this.data.title = title;
    return this;
  }
  addComponents(...rows) {
    this.data.components.push(...rows.flat());
    return this;
  }
  toJSON() {
    return { ...this.data, components: this.data.components.map(toJSON) };
  }
}

/** The `data` of a message response from what a handler passes to `reply`
 * and friends: a string, or `{ content, embeds, components, ephemeral,
 * flags, allowedMentions, tts }`. Keys in the order the Rust SDK writes
 * them, so both answer byte for byte alike. */
export function messageData(options) {
  if (typeof options === 'string') options = { content: options };
  const data = {};
  if (options.tts !== undefined) data.tts = options.tts;
  if (options.content !== undefined) data.content = options.content;
  if (options.embeds !== undefined) data.embeds = options.embeds.map(toJSON);
  if (options.allowedMentions !== undefined) data.allowed_mentions = options.allowedMentions;
  let flags = options.flags ?? 0;
  if (options.ephemeral) flags |= MessageFlags.Ephemeral;
  if (flags) data.flags = flags;
  if (options.components !== undefined) data.components = options.components.map(toJSON);
  return data;
}

// ---------------------------------------------------------------- interactions

/** A command's options, read the discord.js way. */
export class CommandOptions {
  constructor(interaction) {
    this.interaction = interaction;
    this.data = interaction.raw.data ?? {};
    // The options of the subcommand (group) the user chose, flattened.
    let options = this.data.options ?? [];
    this.group = null;
    this.subcommand = null;
    for (;;) {
      const nested = options.find(
        (o) => o.type === ApplicationCommandOptionType.Subcommand || o.type === ApplicationCommandOptionType.SubcommandGroup,
      );
      if (!nested) break;
      if (nested.type === ApplicationCommandOptionType.SubcommandGroup) this.group = nested.name;
      else this.subcommand = nested.name;
      options = nested.options ?? [];
    }
    this.options = options;
  }

  /** The raw option `name`; with `required`, a missing one throws. */
  get(name, required = false) {
    const option = this.options.find((o) => o.name === name);
    if (!option && required) throw new BotError(`the required option "${name}" is missing`);
    return option ?? null;
  }

  typed(name, type, required) {
    const option = this.get(name, required);
    if (!option) return null;
    if (option.type !== type) {
      throw new BotError(`option "${name}" is of type ${option.type}, not ${type}`);
    }
    return option.value;
  }

  getString(name, required = false) {
    return this.typed(name, ApplicationCommandOptionType.String, required);
  }
  getInteger(name, required = false) {
    return this.typed(name, ApplicationCommandOptionType.Integer, required);
  }
  getNumber(name, required = false) {
    return this.typed(name, ApplicationCommandOptionType.Number, required);
  }
  getBoolean(name, required = false) {
    return this.typed(name, ApplicationCommandOptionType.Boolean, required);
  }
  resolved(kind, name, type, required) {
    const id = this.typed(name, type, required);
    return id === null ? null : (this.data.resolved?.[kind]?.[id] ?? { id });
  }
  /** The user object (from the interaction's resolved data). */
  getUser(name, required = false) {
    return this.resolved('users', name, ApplicationCommandOptionType.User, required);
  }
  getMember(name) {
    const id = this.typed(name, ApplicationCommandOptionType.User, false);
    return id === null ? null : (this.data.resolved?.members?.[id] ?? null);
  }
  getChannel(name, required = false) {
    return this.resolved('channels', name, ApplicationCommandOptionType.Channel, required);
  }
  getRole(name, required = false) {
    return this.resolved('roles', name, ApplicationCommandOptionType.Role, required);
  }
  getAttachment(name, required = false) {
    return this.resolved('attachments', name, ApplicationCommandOptionType.Attachment, required);
  }
  getMentionable(name, required = false) {
    const id = this.typed(name, ApplicationCommandOptionType.Mentionable, required);
    if (id === null) return null;
    const resolved = this.data.resolved ?? {};
    return resolved.users?.[id] ?? resolved.roles?.[id] ?? { id };
  }
  getSubcommand(required = true) {
    if (this.subcommand === null && required) throw new BotError('the command has no subcommand');
    return this.subcommand;
  }
  getSubcommandGroup(required = false) {
    if (this.group === null && required) throw new BotError('the command has no subcommand group');
    return this.group;
  }
  /** In an autocomplete request: the value being typed (or, with `full`, the option). */
  getFocused(full = false) {
    const option = this.options.find((o) => o.focused);
    if (!option) return null;
    return full ? option : option.value;
  }
}

/** A modal submission's text inputs. */
class ModalFields {
  constructor(components) {
    this.components = components ?? [];
  }
  getTextInputValue(customId) {
    const value = findTextInput(this.components, customId);
    if (value === undefined) throw new BotError(`the form has no field "${customId}"`);
    return value;
  }
}

function findTextInput(node, id) {
  if (Array.isArray(node)) {
    for (const child of node) {
      const found = findTextInput(child, id);
      if (found !== undefined) return found;
    }
  } else if (node && typeof node === 'object') {
    if (node.custom_id === id && typeof node.value === 'string') return node.value;
    for (const key of ['component', 'components']) {
      if (node[key]) {
        const found = findTextInput(node[key], id);
        if (found !== undefined) return found;
      }
    }
  }
  return undefined;
}

/** One interaction, and how to answer it.
 *
 * `reply`, `update`, `showModal` and `respond` set the initial response;
 * it goes back to Discord as the HTTP answer when the handler returns (one
 * round trip), or as soon as the handler needs it sent (`followUp`).
 * `deferReply` and `deferUpdate` send it at once. `editReply` changes the
 * answer (before it is sent, or after, by editing the message). */
export class Interaction {
  constructor(raw) {
    this.raw = raw;
    this.type = raw.type;
    this.id = raw.id;
    this.token = raw.token;
    this.applicationId = raw.application_id;
    this.guildId = raw.guild_id ?? null;
    this.channelId = raw.channel_id ?? raw.channel?.id ?? null;
    this.member = raw.member ?? null;
    this.user = raw.member?.user ?? raw.user ?? null;
    this.locale = raw.locale ?? null;
    this.commandName = raw.type === 2 || raw.type === 4 ? (raw.data?.name ?? null) : null;
    this.commandType = this.commandName === null ? null : (raw.data?.type ?? ApplicationCommandType.ChatInput);
    this.customId = raw.type === 3 || raw.type === 5 ? (raw.data?.custom_id ?? null) : null;
    this.values = raw.data?.values ?? [];
    this.options = new CommandOptions(this);
    this.fields = new ModalFields(raw.data?.components);
    // The answer so far: `initial` not yet sent, or `sent` (then `edit`
    // is a later change of it).
    this.initial = null;
    this.sent = null;
    this.edit = null;
  }

  /** The name Discord shows for the user here: server nickname, else display name, else username. */
  get displayName() {
    if (!this.user) return null;
    return this.member?.nick ?? this.user.global_name ?? this.user.username;
  }

  get replied() {
    return this.initial !== null || this.sent !== null;
  }
  get deferred() {
    return this.sent?.type === InteractionResponseType.DeferredChannelMessageWithSource || this.sent?.type === InteractionResponseType.DeferredMessageUpdate;
  }

  isChatInputCommand() {
    return this.type === InteractionType.ApplicationCommand && this.commandType === ApplicationCommandType.ChatInput;
  }
  isUserContextMenuCommand() {
    return this.type === InteractionType.ApplicationCommand && this.commandType === ApplicationCommandType.User;
  }
  isMessageContextMenuCommand() {
    return this.type === InteractionType.ApplicationCommand && this.commandType === ApplicationCommandType.Message;
  }
  isAutocomplete() {
    return this.type === InteractionType.ApplicationCommandAutocomplete;
  }
  isButton() {
    return this.type === InteractionType.MessageComponent && this.raw.data?.component_type === ComponentType.Button;
  }
  isStringSelectMenu() {
    return this.type === InteractionType.MessageComponent && this.raw.data?.component_type === ComponentType.StringSelect;
  }
  isMessageComponent() {
    return this.type === InteractionType.MessageComponent;
  }
  isModalSubmit() {
    return this.type === InteractionType.ModalSubmit;
  }

  setInitial(response) {
    if (this.replied) throw new BotError('the interaction has already been replied to');
    this.initial = response;
  }

  /** Answers with a message: a string or `{ content, embeds, components, ephemeral }`. */
  async reply(options) {
    this.setInitial({ type: InteractionResponseType.ChannelMessageWithSource, data: messageData(options) });
  }
  /** For a button or select menu: replaces the message it is on. */
  async update(options) {
    this.setInitial({ type: InteractionResponseType.UpdateMessage, data: messageData(options) });
  }
  /** Shows a modal (a ModalBuilder). */
  async showModal(modal) {
    this.setInitial({ type: InteractionResponseType.Modal, data: toJSON(modal) });
  }
  /** For an autocomplete request: up to 25 `{ name, value }` suggestions. */
  async respond(choices) {
    this.setInitial({ type: InteractionResponseType.ApplicationCommandAutocompleteResult, data: { choices } });
  }
  /** Shows "thinking..." now (ephemeral with `{ ephemeral: true }`); edit it with `editReply`. */
  async deferReply(options = {}) {
    const response = { type: InteractionResponseType.DeferredChannelMessageWithSource };
    if (options.ephemeral) response.data = { flags: MessageFlags.Ephemeral };
    this.setInitial(response);
    this.flush();
  }
  /** For a button or select menu: acknowledges now; `editReply` then edits its message. */
  async deferUpdate() {
    this.setInitial({ type: InteractionResponseType.DeferredMessageUpdate });
    this.flush();
  }
  /** Replaces the answer (the message, or a deferral's "thinking..."). */
  async editReply(options) {
    const data = messageData(options);
    if (this.initial && this.initial.type === InteractionResponseType.ChannelMessageWithSource) {
      // Not sent yet: change it in place, keeping its flags.
      const flags = this.initial.data.flags;
      this.initial = { type: this.initial.type, data: flags ? { ...data, flags: data.flags ?? flags } : data };
    } else if (this.sent || this.initial) {
      this.flush();
      this.edit = data;
    } else {
      throw new BotError('editReply before reply or deferReply');
    }
  }
  /** Sends one more message about this interaction; resolves to Discord's message object. */
  async followUp(options) {
    if (!this.replied) throw new BotError('followUp before reply or deferReply');
    this.flush();
    this.flushEdit();
    return discord.post(`/webhooks/${this.applicationId}/${this.token}`, messageData(options));
  }
  /** Deletes the answer. */
  async deleteReply() {
    this.flush();
    this.edit = null;
    discord.delete(`/webhooks/${this.applicationId}/${this.token}/messages/@original`);
  }
  /** Discord's message object of the answer (once sent). */
  async fetchReply() {
    this.flush();
    this.flushEdit();
    return discord.get(`/webhooks/${this.applicationId}/${this.token}/messages/@original`);
  }

  /** Sends the initial response now, if it is still pending. */
  flush() {
    if (this.initial === null) return;
    const response = this.initial;
    this.initial = null;
    this.sent = response;
    const answer = wrapRespond(response);
    if (answer !== null) throw new BotError(`could not send the initial response: ${answer}`);
  }
  flushEdit() {
    if (this.edit === null) return;
    const data = this.edit;
    this.edit = null;
    discord.patch(`/webhooks/${this.applicationId}/${this.token}/messages/@original`, data);
  }

  /** The export's return value once the handler is done. */
  finish() {
    if (this.initial !== null) return this.initial;
    if (this.edit !== null) {
      // A message edits the response already sent (the host PATCHes it).
      const type = this.sent?.type === InteractionResponseType.DeferredMessageUpdate ? InteractionResponseType.UpdateMessage : InteractionResponseType.ChannelMessageWithSource;
      return { type, data: this.edit };
    }
    if (this.sent !== null) {
      // Leave what was sent as it is.
      return { type: this.sent.type === InteractionResponseType.DeferredMessageUpdate ? InteractionResponseType.DeferredMessageUpdate : InteractionResponseType.DeferredChannelMessageWithSource };
    }
    return null;
  }
}

function wrapRespond(response) {
  try {
    witInteraction.respond(encoder.encode(JSON.stringify(response)));
    return null;
  } catch (e) {
    return String(witError(e));
  }
}

// ---------------------------------------------------------------- the bot

const FALLBACK = {
  command: 'unknown command',
  component: 'this button is no longer handled',
  modal: 'this form is no longer handled',
};

/** A bot: its commands, component and modal handlers, and event handlers. */
export class Bot {
  constructor() {
    this.commands = [];
    this.autocompletes = new Map();
    this.components = [];
    this.modals = [];
    this.events = new Map();
    this.fallbackHandler = null;
  }

  /** Routes a command (a SlashCommandBuilder, ContextMenuCommandBuilder or
   * its JSON) to `handler(interaction)`; the node registers it at deploy. */
  command(definition, handler) {
    const json = toJSON(definition);
    if (!json || typeof json.name !== 'string') throw new TypeError('a command needs a name');
    const type = json.type ?? ApplicationCommandType.ChatInput;
    if (this.commands.some((c) => c.json.name === json.name && (c.json.type ?? 1) === type)) {
      throw new TypeError(`the command "${json.name}" is routed twice`);
    }
    this.commands.push({ json, handler });
    return this;
  }
  /** Routes the autocomplete requests of command `name`. */
  autocomplete(name, handler) {
    this.autocompletes.set(name, handler);
    return this;
  }
  /** Routes buttons and select menus whose custom_id starts with `prefix`;
   * the handler gets the rest of the custom_id as its second argument. */
  component(prefix, handler) {
    this.components.push([prefix, handler]);
    return this;
  }
  /** Routes modal submissions whose custom_id starts with `prefix`. */
  modal(prefix, handler) {
    this.modals.push([prefix, handler]);
    return this;
  }
  /** Answers what no route takes (instead of the ephemeral "unknown command"). */
  fallback(handler) {
    this.fallbackHandler = handler;
    return this;
  }
  /** Handles Discord events named `name` (MESSAGE_CREATE, ...; "*" for all):
   * `handler(data, event)` with the payload parsed. */
  on(name, handler) {
    this.events.set(name, handler);
    return this;
  }

  route(interaction) {
    switch (interaction.type) {
      case InteractionType.ApplicationCommand: {
        const route = this.commands.find((c) => c.json.name === interaction.commandName && (c.json.type ?? 1) === interaction.commandType);
        return route ? [route.handler] : null;
      }
      case InteractionType.ApplicationCommandAutocomplete: {
        const handler = this.autocompletes.get(interaction.commandName);
        return handler ? [handler] : null;
      }
      case InteractionType.MessageComponent:
        return byPrefix(this.components, interaction.customId ?? '');
      case InteractionType.ModalSubmit:
        return byPrefix(this.modals, interaction.customId ?? '');
      default:
        return null;
    }
  }

  fallBack(interaction) {
    if (this.fallbackHandler) return [this.fallbackHandler];
    const text = {
      [InteractionType.ApplicationCommandAutocomplete]: null,
      [InteractionType.MessageComponent]: FALLBACK.component,
      [InteractionType.ModalSubmit]: FALLBACK.modal,
    }[interaction.type];
    return [
      (i) => (text === null ? i.respond([]) : i.reply({ content: text === undefined ? FALLBACK.command : text, ephemeral: true })),
    ];
  }

  /** What the `handle-interaction` export returns: the response's JSON bytes. */
  async handleInteraction(bytes) {
    const raw = JSON.parse(decoder.decode(bytes));
    if (raw.type === InteractionType.Ping) return encoder.encode('{"type":1}');
    const interaction = new Interaction(raw);
    const [handler, ...rest] = this.route(interaction) ?? this.fallBack(interaction);
    const returned = await handler(interaction, ...rest);
    // A handler may also return its answer, as a response object.
    if (returned !== undefined && returned !== null && !interaction.replied) {
      interaction.setInitial(returned.type ? returned : { type: 4, data: messageData(returned) });
    }
    const answer = interaction.finish();
    if (answer === null) throw new BotError('the bot did not answer (its handler neither replied nor deferred)');
    return encoder.encode(JSON.stringify(answer));
  }

  /** The `handle-event` export. */
  async handleEvent(event) {
    const handler = this.events.get(event.name) ?? this.events.get('*');
    if (!handler) return;
    const text = decoder.decode(event.data);
    const data = text ? JSON.parse(text) : null;
    await handler(data, { name: event.name, shard: event.shard, sequence: event.sequence, data });
  }

  /** The `commands` export: the JSON array for Discord's bulk overwrite, or undefined. */
  commandsJSON() {
    if (this.commands.length === 0) return undefined;
    return encoder.encode(JSON.stringify(this.commands.map((c) => c.json)));
  }
}

function byPrefix(routes, customId) {
  let best = null;
  for (const [prefix, handler] of routes) {
    if (customId.startsWith(prefix) && (best === null || prefix.length > best[0].length)) best = [prefix, handler];
  }
  return best ? [best[1], customId.slice(best[0].length)] : null;
}

// ---------------------------------------------------------------- exports and crashes

/** Runs one export call: a BotError becomes the WIT `err` (the user's
 * notice), any other exception a crash with the bot's own stack. */
async function guarded(call) {
  try {
    return await call();
  } catch (error) {
    if (error instanceof BotError) return { tag: 'err', val: error.message };
    crash(error);
  }
}

const CRASH_MARKER = 'appliance-sdk: the bot threw the exception above; this instance is discarded';

/** Writes the exception and its stack to stderr (the node puts what a bot
 * wrote there during the event at the top of its crash record), then
 * traps. The trap comes from ComponentizeJS's bindings: they read an
 * error's `payload` to return it as the export's `err`, and an exception
 * thrown while reading it ends the call with a trap. */
function crash(error) {
  console.error(describe(error));
  throw {
    get payload() {
      throw CRASH_MARKER;
    },
  };
}

/** `Uncaught Name: message` and its stack, Node-style, in the bot's own
 * files and lines (through the source map the build embeds), then its causes. */
export function describe(error, depth = 0) {
  let text;
  if (error instanceof Error) {
    text = `Uncaught ${error.name}: ${error.message}`;
    const frames = String(error.stack ?? '')
      .split('\n')
      .map(frame)
      .filter((f) => f !== null);
    // The SDK's frames below the bot's own (its dispatch, the exports) say
    // nothing about the bot; an error raised inside the SDK keeps its own.
    while (frames.length > 1 && frames[frames.length - 1].internal && frames.some((f) => !f.internal)) frames.pop();
    text += frames.length ? '\n' + frames.map((f) => f.text).join('\n') : '';
    if (error.cause !== undefined && depth < 4) text += '\nCaused by: ' + describe(error.cause, depth + 1).replace(/^Uncaught /, '');
  } else {
    text = `Uncaught ${typeof error === 'string' ? JSON.stringify(error) : safeString(error)} (thrown, not an Error: no stack)`;
  }
  return text;
}

/** One SpiderMonkey stack line (`fn@file:line:col`) as `    at fn (file:line:col)`,
 * and whether it is the SDK's own code (`internal`). */
function frame(line) {
  const match = /^(.*)@(.*):(\d+):(\d+)$/.exec(line.trim());
  if (!match) return line.trim() ? { text: `    at ${line.trim()}`, internal: false } : null;
  const [, name, file, lineNo, column] = match;
  // The bindings' own glue says nothing about the bot.
  if (file.endsWith('initializer.js')) return null;
  const mapped = original(file, Number(lineNo), Number(column));
  const place = mapped?.place ?? `${file}:${lineNo}:${column}`;
  return { text: `    at ${name || '<anonymous>'} (${place})`, internal: mapped?.internal ?? false };
}

let decoded = null;

/** `file:line:col` in the bot's sources for a position in the bundle, and
 * whether that source is the SDK or the build's glue. */
function original(file, line, column) {
  const map = globalThis.__applianceSourceMap;
  if (!map || file !== map.file) return null;
  decoded ??= decodeMappings(map.mappings);
  const segments = decoded[line - 1];
  if (!segments) return null;
  let best = null;
  for (const segment of segments) {
    if (segment.length >= 4 && segment[0] <= column - 1) best = segment;
  }
  best ??= segments.find((segment) => segment.length >= 4);
  if (!best) return null;
  return {
    place: `${map.sources[best[1]]}:${best[2] + 1}:${best[3] + 1}`,
    internal: (map.internal ?? []).includes(best[1]),
  };
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** A source map's `mappings`: per generated line, segments of
 * [column, source, line, column] with the relative values made absolute. */
function decodeMappings(mappings) {
  const lines = [];
  const state = [0, 0, 0, 0, 0];
  for (const text of mappings.split(';')) {
    const segments = [];
    state[0] = 0;
    for (const part of text.split(',')) {
      if (!part) continue;
      const values = [];
      let value = 0;
      let shift = 0;
      for (const char of part) {
        const digit = BASE64.indexOf(char);
        value += (digit & 31) << shift;
        if (digit & 32) {
          shift += 5;
        } else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      values.forEach((v, i) => (state[i] += v));
      segments.push(state.slice(0, values.length));
    }
    lines.push(segments);
  }
  return lines;
}

/** The component's exports for `bot` (what `appliance-js build` exports). */
export function exportsOf(bot) {
  if (!(bot instanceof Bot)) {
    throw new TypeError('the bot module must `export default` a Bot (new Bot().command(...))');
  }
  return {
    handleInteraction: (bytes) => guarded(() => bot.handleInteraction(bytes)),
    handleEvent: (event) => guarded(() => bot.handleEvent(event)),
    commands: () => guarded(() => bot.commandsJSON()),
  };
}
