// Types of appliance-sdk (src/index.js). Written by hand: `jco guest-types`
// of the pinned jco cannot read guest-sdk/wit (it fails with "os error 44"),
// so the WIT's shapes are restated here (interfaces kv, log, discord,
// interaction, gateway, events of guest-sdk/wit/world.wit).

/** An error meant for the bot's user: shown in an ephemeral notice and logged. Any other exception is a crash. */
export class BotError extends Error {
  constructor(message: string, options?: { cause?: unknown });
}
/** WIT `kv-error`: `kind` is invalid-key, quota-exceeded or unavailable. */
export class KvError extends BotError {
  readonly kind: 'invalid-key' | 'quota-exceeded' | 'unavailable' | 'invalid-value';
  readonly detail: string;
}
/** WIT `discord-error` (kind invalid-request, rate-limited, unauthorized, unavailable), or an error status (kind "status"). */
export class DiscordError extends BotError {
  readonly kind: 'invalid-request' | 'rate-limited' | 'unauthorized' | 'unavailable' | 'status';
  readonly status?: number;
  readonly body?: Uint8Array;
}
/** WIT `gateway-error`. */
export class GatewayError extends BotError {
  readonly kind: 'not-connected' | 'rate-limited' | 'invalid-request';
  readonly detail: string | number;
}

export const kv: {
  get(key: string): Uint8Array | undefined;
  getString(key: string): string | undefined;
  getJSON<T = unknown>(key: string): T | undefined;
  set(key: string, value: string | Uint8Array): void;
  setJSON(key: string, value: unknown): void;
  delete(key: string): void;
  list(prefix?: string): string[];
  incr(key: string, by?: number): number;
};

type LogFn = (...parts: unknown[]) => void;
export const log: { trace: LogFn; debug: LogFn; info: LogFn; warn: LogFn; error: LogFn };

export interface DiscordAnswer {
  status: number;
  body: Uint8Array;
  text(): string;
  json<T = any>(): T | undefined;
}
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
export const discord: {
  request(method: HttpMethod, path: string, body?: unknown): DiscordAnswer;
  call<T = any>(method: HttpMethod, path: string, body?: unknown): T;
  get<T = any>(path: string): T;
  post<T = any>(path: string, body?: unknown): T;
  patch<T = any>(path: string, body?: unknown): T;
  put<T = any>(path: string, body?: unknown): T;
  delete<T = any>(path: string): T;
};

export const gateway: {
  updatePresence(presence: { since: number | null; activities: unknown[]; status: string; afk: boolean }): void;
  requestGuildMembers(request: { guild_id: string; query?: string; limit: number; user_ids?: string[] }): void;
};

export const InteractionType: { Ping: 1; ApplicationCommand: 2; MessageComponent: 3; ApplicationCommandAutocomplete: 4; ModalSubmit: 5 };
export const InteractionResponseType: {
  Pong: 1;
  ChannelMessageWithSource: 4;
  DeferredChannelMessageWithSource: 5;
  DeferredMessageUpdate: 6;
  UpdateMessage: 7;
  ApplicationCommandAutocompleteResult: 8;
  Modal: 9;
};
export const ApplicationCommandType: { ChatInput: 1; User: 2; Message: 3 };
export const ApplicationCommandOptionType: {
  Subcommand: 1;
  SubcommandGroup: 2;
  String: 3;
  Integer: 4;
  Boolean: 5;
  User: 6;
  Channel: 7;
  Role: 8;
  Mentionable: 9;
  Number: 10;
  Attachment: 11;
};
export const ComponentType: {
  ActionRow: 1;
  Button: 2;
  StringSelect: 3;
  TextInput: 4;
  UserSelect: 5;
  RoleSelect: 6;
  MentionableSelect: 7;
  ChannelSelect: 8;
  Label: 18;
};
export const ButtonStyle: { Primary: 1; Secondary: 2; Success: 3; Danger: 4; Link: 5 };
export const TextInputStyle: { Short: 1; Paragraph: 2 };
export const MessageFlags: { SuppressEmbeds: 4; Ephemeral: 64 };

export interface JSONEncodable<T = unknown> {
  toJSON(): T;
}

export class SlashCommandOptionBuilder {
  setName(name: string): this;
  setDescription(description: string): this;
  setRequired(required?: boolean): this;
  setAutocomplete(autocomplete?: boolean): this;
  addChoices(...choices: Array<{ name: string; value: string | number } | Array<{ name: string; value: string | number }>>): this;
  setMinValue(min: number): this;
  setMaxValue(max: number): this;
  setMinLength(min: number): this;
  setMaxLength(max: number): this;
  addChannelTypes(...types: number[]): this;
  toJSON(): Record<string, unknown>;
}
type AddOption<T> = (build: (option: SlashCommandOptionBuilder) => SlashCommandOptionBuilder | void) => T;
interface OptionAdders<T> {
  addStringOption: AddOption<T>;
  addIntegerOption: AddOption<T>;
  addBooleanOption: AddOption<T>;
  addUserOption: AddOption<T>;
  addChannelOption: AddOption<T>;
  addRoleOption: AddOption<T>;
  addMentionableOption: AddOption<T>;
  addNumberOption: AddOption<T>;
  addAttachmentOption: AddOption<T>;
}
export interface SlashCommandSubcommandBuilder extends OptionAdders<SlashCommandSubcommandBuilder> {}
export class SlashCommandSubcommandBuilder {
  setName(name: string): this;
  setDescription(description: string): this;
  addSubcommand(build: (sub: SlashCommandSubcommandBuilder) => SlashCommandSubcommandBuilder | void): this;
  toJSON(): Record<string, unknown>;
}
export interface SlashCommandBuilder extends OptionAdders<SlashCommandBuilder> {}
export class SlashCommandBuilder {
  setName(name: string): this;
  setDescription(description: string): this;
  setDefaultMemberPermissions(permissions: string | bigint | number | null): this;
  setNSFW(nsfw?: boolean): this;
  addSubcommand(build: (sub: SlashCommandSubcommandBuilder) => SlashCommandSubcommandBuilder | void): this;
  addSubcommandGroup(build: (group: SlashCommandSubcommandBuilder) => SlashCommandSubcommandBuilder | void): this;
  toJSON(): Record<string, unknown>;
}
export class ContextMenuCommandBuilder {
  setName(name: string): this;
  setType(type: 2 | 3): this;
  toJSON(): Record<string, unknown>;
}

export class EmbedBuilder {
  constructor(data?: Record<string, unknown>);
  setTitle(title: string): this;
  setDescription(description: string): this;
  setURL(url: string): this;
  setColor(color: number | string): this;
  setTimestamp(timestamp?: number | Date): this;
  setFooter(footer: { text: string; iconURL?: string }): this;
  setAuthor(author: { name: string; url?: string; iconURL?: string }): this;
  setImage(url: string): this;
  setThumbnail(url: string): this;
  addFields(...fields: Array<{ name: string; value: string; inline?: boolean } | Array<{ name: string; value: string; inline?: boolean }>>): this;
  toJSON(): Record<string, unknown>;
}
export class ActionRowBuilder<T extends JSONEncodable = JSONEncodable> {
  addComponents(...components: Array<T | T[]>): this;
  toJSON(): Record<string, unknown>;
}
export class ButtonBuilder {
  setCustomId(customId: string): this;
  setLabel(label: string): this;
  setStyle(style: number): this;
  setURL(url: string): this;
  setEmoji(emoji: string | { id?: string; name?: string }): this;
  setDisabled(disabled?: boolean): this;
  toJSON(): Record<string, unknown>;
}
export class StringSelectMenuBuilder {
  setCustomId(customId: string): this;
  setPlaceholder(placeholder: string): this;
  setMinValues(n: number): this;
  setMaxValues(n: number): this;
  addOptions(...options: Array<SelectOption | SelectOption[]>): this;
  toJSON(): Record<string, unknown>;
}
export interface SelectOption {
  label: string;
  value: string;
  description?: string;
  default?: boolean;
}
export class TextInputBuilder {
  setCustomId(customId: string): this;
  setLabel(label: string): this;
  setStyle(style: number): this;
  setPlaceholder(placeholder: string): this;
  setRequired(required?: boolean): this;
  setValue(value: string): this;
  setMinLength(n: number): this;
  setMaxLength(n: number): this;
  toJSON(): Record<string, unknown>;
}
export class ModalBuilder {
  setCustomId(customId: string): this;
  setTitle(title: string): this;
  addComponents(...rows: Array<JSONEncodable | JSONEncodable[]>): this;
  toJSON(): Record<string, unknown>;
}

/** What `reply`, `editReply`, `followUp` and `update` take. */
export type MessageOptions =
  | string
  | {
      content?: string;
      embeds?: Array<JSONEncodable | Record<string, unknown>>;
      components?: Array<JSONEncodable | Record<string, unknown>>;
      ephemeral?: boolean;
      flags?: number;
      allowedMentions?: Record<string, unknown>;
      tts?: boolean;
    };
export function messageData(options: MessageOptions): Record<string, unknown>;

export interface User {
  id: string;
  username: string;
  global_name?: string | null;
  [key: string]: unknown;
}

export class CommandOptions {
  get(name: string, required: true): { name: string; type: number; value?: unknown };
  get(name: string, required?: boolean): { name: string; type: number; value?: unknown } | null;
  getString(name: string, required: true): string;
  getString(name: string, required?: boolean): string | null;
  getInteger(name: string, required: true): number;
  getInteger(name: string, required?: boolean): number | null;
  getNumber(name: string, required: true): number;
  getNumber(name: string, required?: boolean): number | null;
  getBoolean(name: string, required: true): boolean;
  getBoolean(name: string, required?: boolean): boolean | null;
  getUser(name: string, required: true): User;
  getUser(name: string, required?: boolean): User | null;
  getMember(name: string): Record<string, unknown> | null;
  getChannel(name: string, required?: boolean): Record<string, unknown> | null;
  getRole(name: string, required?: boolean): Record<string, unknown> | null;
  getAttachment(name: string, required?: boolean): Record<string, unknown> | null;
  getMentionable(name: string, required?: boolean): Record<string, unknown> | null;
  getSubcommand(required?: true): string;
  getSubcommand(required: boolean): string | null;
  getSubcommandGroup(required?: boolean): string | null;
  getFocused(full?: false): string | number | null;
  getFocused(full: true): { name: string; type: number; value: string | number; focused: true } | null;
}

export class Interaction {
  readonly raw: Record<string, any>;
  readonly type: number;
  readonly id: string;
  readonly token: string;
  readonly applicationId: string;
  readonly guildId: string | null;
  readonly channelId: string | null;
  readonly member: Record<string, any> | null;
  readonly user: User | null;
  readonly locale: string | null;
  readonly commandName: string | null;
  readonly commandType: number | null;
  readonly customId: string | null;
  readonly values: string[];
  readonly options: CommandOptions;
  readonly fields: { getTextInputValue(customId: string): string };
  readonly displayName: string | null;
  readonly replied: boolean;
  readonly deferred: boolean;
  isChatInputCommand(): boolean;
  isUserContextMenuCommand(): boolean;
  isMessageContextMenuCommand(): boolean;
  isAutocomplete(): boolean;
  isButton(): boolean;
  isStringSelectMenu(): boolean;
  isMessageComponent(): boolean;
  isModalSubmit(): boolean;
  reply(options: MessageOptions): Promise<void>;
  update(options: MessageOptions): Promise<void>;
  showModal(modal: ModalBuilder | Record<string, unknown>): Promise<void>;
  respond(choices: Array<{ name: string; value: string | number }>): Promise<void>;
  deferReply(options?: { ephemeral?: boolean }): Promise<void>;
  deferUpdate(): Promise<void>;
  editReply(options: MessageOptions): Promise<void>;
  followUp(options: MessageOptions): Promise<Record<string, any>>;
  deleteReply(): Promise<void>;
  fetchReply(): Promise<Record<string, any>>;
}
/** discord.js's names for the one Interaction class, by what it is. */
export type ChatInputCommandInteraction = Interaction;
export type ButtonInteraction = Interaction;
export type StringSelectMenuInteraction = Interaction;
export type ModalSubmitInteraction = Interaction;
export type AutocompleteInteraction = Interaction;

/** A handler may reply through the interaction, or return its answer. */
export type Handler = (interaction: Interaction) => void | MessageOptions | Promise<void | MessageOptions>;
export type PrefixHandler = (interaction: Interaction, rest: string) => void | MessageOptions | Promise<void | MessageOptions>;

/** WIT `events.event`, with its payload parsed. */
export interface GatewayEvent<T = any> {
  name: string;
  data: T;
  shard: number;
  sequence: bigint;
}
export type EventHandler<T = any> = (data: T, event: GatewayEvent<T>) => void | Promise<void>;

export class Bot {
  command(definition: JSONEncodable | Record<string, unknown>, handler: Handler): this;
  autocomplete(commandName: string, handler: Handler): this;
  component(prefix: string, handler: PrefixHandler): this;
  modal(prefix: string, handler: PrefixHandler): this;
  fallback(handler: Handler): this;
  on<T = any>(name: string, handler: EventHandler<T>): this;
}

/** An exception's `Uncaught Name: message` and stack, in the bot's own files and lines. */
export function describe(error: unknown): string;

/** The component's exports for a bot (used by `appliance-js build`). */
export function exportsOf(bot: Bot): {
  handleInteraction(interaction: Uint8Array): Promise<Uint8Array | { tag: 'err'; val: string }>;
  handleEvent(event: { name: string; data: Uint8Array; shard: number; sequence: bigint }): Promise<void | { tag: 'err'; val: string }>;
  commands(): Promise<Uint8Array | undefined | { tag: 'err'; val: string }>;
};
