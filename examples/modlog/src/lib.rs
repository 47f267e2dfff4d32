//! A moderation bot: shows Discord events (world `command-event-bot`) next
//! to a slash command with subcommands, with per-server settings in the
//! key-value store.
//!
//! - `/modlog words add word:<w>`, `/modlog words remove word:<w>`,
//!   `/modlog words list`: the server's banned words;
//! - `/modlog channel channel:<#c>`: where deletions are logged (no channel:
//!   logging off);
//! - `/modlog welcome channel:<#c>`: where new members are greeted (no
//!   channel: greetings off).
//!
//! and, from the gateway:
//!
//! - `GUILD_MEMBER_ADD`: "Welcome, @member!" in the welcome channel;
//! - `MESSAGE_CREATE`: a message by a person (not a bot or webhook) that
//!   contains a banned word, as a whole word and in any case, is deleted, and
//!   the deletion logged: "Deleted a message by @author in #channel:
//!   contained a banned word";
//! - `MESSAGE_DELETE`: "A message was deleted in #channel (id M)" in the log
//!   channel, except for the bot's own deletions;
//! - `APPLIANCE_EVENTS_DROPPED`: a warning in the bot's log;
//! - `READY`: sets the bot's presence, "Watching for banned words", over the
//!   gateway.
//!
//! The command is declared by the types below (an enum per level of
//! subcommands); the node registers it at deploy, for servers only and for
//! members with *Manage Server* by default.
//!
//! State, all in the key-value store under the server's ID:
//!
//! | key | value |
//! |---|---|
//! | `{guild}:settings` | [`Settings`] as JSON: words, log and welcome channels |
//! | `{guild}:ours:{message}` | a message this bot deleted, until its `MESSAGE_DELETE` arrives (the newest 50 are kept) |
//! | `{guild}:welcomed` | the last 20 members greeted (`user@joined_at`), so a redelivered `GUILD_MEMBER_ADD` greets once |
//!
//! Marks of the bot's own deletions are kept in the store rather than in
//! the instance because the `MESSAGE_DELETE` may run in another instance
//! than the `MESSAGE_CREATE` that caused it. Each deletion has a key of its
//! own, so two deletions handled at once in different instances cannot
//! overwrite each other's mark.
//!
//! Events arrive at least once. A redelivered `MESSAGE_CREATE` finds its
//! message gone (Discord answers 404) and logs nothing; a redelivered
//! `GUILD_MEMBER_ADD` is in `{guild}:welcomed`. A redelivered
//! `MESSAGE_DELETE` of someone else's message is logged twice: harmless.
//!
//! Build and test, from the repository root:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2 -p modlog-bot
//! cargo test -p modlog-bot
//! ```
//!
//! and deploy it with a token and intents (see README.md).

use appliance_sdk::discord::{self, DiscordError};
use appliance_sdk::model::channel::message::{AllowedMentions, MentionType};
use appliance_sdk::model::gateway::payload::incoming::{MemberAdd, MessageCreate, MessageDelete};
use appliance_sdk::model::gateway::presence::{ActivityType, MinimalActivity, Status};
use appliance_sdk::model::guild::Permissions;
use appliance_sdk::model::id::marker::{ChannelMarker, GuildMarker, MessageMarker};
use appliance_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// Banned words a server may have.
const MAX_WORDS: usize = 100;
/// The longest banned word (or phrase), in characters.
const MAX_WORD_CHARS: usize = 50;
/// Marks of the bot's own deletions kept per server.
const OURS_KEPT: usize = 50;
/// Greeted members remembered per server, against redeliveries.
const WELCOMES_KEPT: usize = 20;

// --- the command ----------------------------------------------------------------

/// `/modlog ...`: one variant per subcommand or group.
#[derive(CommandModel, CreateCommand)]
#[command(
    name = "modlog",
    desc = "Moderation settings for this server",
    default_permissions = "manage_guild",
    contexts = "guild"
)]
enum ModlogCommand {
    #[command(name = "words")]
    Words(WordsCommand),
    #[command(name = "channel")]
    Channel(LogChannelCommand),
    #[command(name = "welcome")]
    Welcome(WelcomeCommand),
}

/// Who may use `/modlog` unless a server says otherwise: *Manage Server*.
fn manage_guild() -> Permissions {
    Permissions::MANAGE_GUILD
}

/// `/modlog words ...`
#[derive(CommandModel, CreateCommand)]
#[command(
    name = "words",
    desc = "Banned words: messages containing one are deleted"
)]
enum WordsCommand {
    #[command(name = "add")]
    Add(AddWord),
    #[command(name = "remove")]
    Remove(RemoveWord),
    #[command(name = "list")]
    List(ListWords),
}

/// `/modlog words add word:<w>`
#[derive(CommandModel, CreateCommand)]
#[command(name = "add", desc = "Ban a word (or phrase)")]
struct AddWord {
    /// The word
    #[command(max_length = 50)]
    word: String,
}

/// `/modlog words remove word:<w>`
#[derive(CommandModel, CreateCommand)]
#[command(name = "remove", desc = "Allow a word again")]
struct RemoveWord {
    /// The word
    #[command(max_length = 50)]
    word: String,
}

/// `/modlog words list`
#[derive(CommandModel, CreateCommand)]
#[command(name = "list", desc = "Show the banned words")]
struct ListWords;

/// `/modlog channel [channel:<#c>]`
#[derive(CommandModel, CreateCommand)]
#[command(
    name = "channel",
    desc = "Where deletions are logged (no channel: stop logging)"
)]
struct LogChannelCommand {
    /// The log channel
    #[command(channel_types = "guild_text guild_announcement")]
    channel: Option<Id<ChannelMarker>>,
}

/// `/modlog welcome [channel:<#c>]`
#[derive(CommandModel, CreateCommand)]
#[command(
    name = "welcome",
    desc = "Where new members are greeted (no channel: stop greeting)"
)]
struct WelcomeCommand {
    /// The welcome channel
    #[command(channel_types = "guild_text guild_announcement")]
    channel: Option<Id<ChannelMarker>>,
}

// --- the bot ------------------------------------------------------------------

/// The bot. Its state is in the key-value store, none in the instance.
#[derive(Default)]
struct Modlog;

impl Bot for Modlog {
    fn router() -> Router<Self> {
        Router::new().command(Self::modlog)
    }
}

impl Modlog {
    fn modlog(&mut self, interaction: &Interaction, command: ModlogCommand) -> Result<Response> {
        let Some(guild) = interaction.guild_id() else {
            return Ok(
                Response::message("Use /modlog in a server: its settings are per server.")
                    .ephemeral(),
            );
        };
        let action = match Action::from_command(command) {
            Ok(action) => action,
            Err(why) => return Ok(Response::message(why).ephemeral()),
        };
        let path = action.path();
        let mut settings = Settings::load(guild)?;
        let (answer, changed) = settings.apply(action);
        if changed {
            settings.save(guild)?;
            let who = interaction
                .user_id()
                .map_or_else(|| "?".to_owned(), |id| id.to_string());
            log::info(format!("guild {guild}: user {who} ran /modlog {path}"));
        }
        Ok(Response::message(answer).ephemeral())
    }
}

impl EventBot for Modlog {
    fn on_event(&mut self, event: Event) -> Result<()> {
        // Each accessor compares the name first and reads the payload only
        // for its own kind, so unrelated events (GUILD_CREATE, ...) cost
        // nothing, and events this bot does not know are simply ignored.
        if let Some(member) = event.member_add()? {
            greet(&member)
        } else if let Some(message) = event.message_create()? {
            moderate(&message)
        } else if let Some(deleted) = event.message_delete()? {
            log_deletion(&deleted)
        } else if let Some(dropped) = event.dropped() {
            log::warn(format!(
                "the host dropped {} events (sequence {} to {}): some messages were not checked",
                dropped.count, dropped.first_sequence, dropped.last_sequence
            ));
            Ok(())
        } else {
            if event.name() == "READY" {
                log::info(format!("gateway shard {} is ready", event.shard()));
                show_presence();
            }
            Ok(())
        }
    }
}

// Exports `handle-interaction`, `commands` and `handle-event` (world
// `command-event-bot`).
appliance_sdk::bot!(Modlog, events);

// --- events -----------------------------------------------------------------

/// `GUILD_MEMBER_ADD`: greets a new member in the welcome channel, once.
fn greet(member: &MemberAdd) -> Result<()> {
    if member.user.bot {
        return Ok(());
    }
    let guild = member.guild_id;
    let Some(channel) = Settings::load(guild)?.welcome_channel else {
        return Ok(());
    };
    let user = member.user.id;
    let joined = member.joined_at.map_or(0, |at| at.as_secs());
    let key = welcomed_key(guild);
    let mut recent: Vec<String> = kv::get_json(&key)?.unwrap_or_default();
    if !remember(&mut recent, format!("{user}@{joined}"), WELCOMES_KEPT) {
        return Ok(()); // a redelivery: greeted already
    }
    kv::set_json(&key, &recent)?;
    post(channel, welcome_text(user), Mentions::Users)?;
    Ok(())
}

/// `MESSAGE_CREATE`: deletes a message with a banned word, and logs that.
fn moderate(message: &MessageCreate) -> Result<()> {
    let Some(guild) = message.guild_id else {
        return Ok(()); // a direct message: no server settings
    };
    // Never act on bots (this one included) or webhooks: no loops.
    if message.author.bot || message.webhook_id.is_some() || message.content.is_empty() {
        return Ok(());
    }
    let settings = Settings::load(guild)?;
    if find_banned(&message.content, &settings.words).is_none() {
        return Ok(());
    }
    let (channel, id, author) = (message.channel_id, message.id, message.author.id);

    // Mark the deletion as ours before making it: its MESSAGE_DELETE may be
    // handled by another instance as soon as Discord has it.
    let mark = ours_key(guild, id);
    kv::set(&mark, b"1")?;
    match discord::delete_message(channel, id) {
        Ok(()) => {}
        Err(DiscordError::Status(404, _)) => {
            // Gone already: this is a redelivery, or someone was faster.
            kv::delete(&mark)?;
            return Ok(());
        }
        Err(error) => {
            kv::delete(&mark)?;
            log::warn(format!(
                "guild {guild}: could not delete message {id} in channel {channel}: {error}"
            ));
            if let Some(log_channel) = settings.log_channel {
                post(
                    log_channel,
                    format!(
                        "Could not delete a message by <@{author}> in <#{channel}> that contained a banned word: {error}"
                    ),
                    Mentions::None,
                )?;
            }
            return Ok(());
        }
    }
    forget_old_marks(guild)?;
    log::info(format!(
        "guild {guild}: deleted message {id} by user {author} in channel {channel}"
    ));
    if let Some(log_channel) = settings.log_channel {
        post(log_channel, removal_text(author, channel), Mentions::None)?;
    }
    Ok(())
}

/// `MESSAGE_DELETE`: logs a deletion, unless it was this bot's own.
fn log_deletion(deleted: &MessageDelete) -> Result<()> {
    let Some(guild) = deleted.guild_id else {
        return Ok(());
    };
    let mark = ours_key(guild, deleted.id);
    if kv::get(&mark)?.is_some() {
        kv::delete(&mark)?;
        return Ok(()); // ours, and logged when we deleted it
    }
    if let Some(log_channel) = Settings::load(guild)?.log_channel {
        post(
            log_channel,
            deletion_text(deleted.channel_id, deleted.id),
            Mentions::None,
        )?;
    }
    Ok(())
}

/// Shows "Watching for banned words" under the bot's name. A presence is
/// a nicety: if the gateway refuses the command, the bot only logs that.
fn show_presence() {
    let activity = MinimalActivity {
        kind: ActivityType::Watching,
        name: "for banned words".to_owned(),
        url: None,
    };
    if let Err(error) = gateway::set_presence(Status::Online, Some(activity)) {
        log::warn(format!("could not set the presence: {error}"));
    }
}

/// Drops the oldest marks of our own deletions beyond [`OURS_KEPT`] (their
/// `MESSAGE_DELETE` never came, say because it was dropped).
fn forget_old_marks(guild: Id<GuildMarker>) -> Result<()> {
    let keys = kv::list_keys(&ours_prefix(guild))?;
    for key in oldest_beyond(&keys, OURS_KEPT) {
        kv::delete(key)?;
    }
    Ok(())
}

/// Who a posted message may ping.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mentions {
    /// The users it mentions (a greeting pings the new member).
    Users,
    /// Nobody (a log line names people without pinging them).
    None,
}

/// Posts `content` in `channel` as the bot.
fn post(channel: Id<ChannelMarker>, content: String, mentions: Mentions) -> Result<()> {
    let mut message = Response::message(content);
    message.data_mut().allowed_mentions = Some(AllowedMentions {
        parse: match mentions {
            Mentions::Users => vec![MentionType::Users],
            Mentions::None => Vec::new(),
        },
        ..AllowedMentions::default()
    });
    discord::send_message(channel, message)?;
    Ok(())
}

// --- settings -------------------------------------------------------------------

/// A server's settings, stored as JSON under `{guild}:settings`. (IDs are
/// written as strings and read from strings or numbers, as older versions
/// wrote them.)
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Settings {
    /// Banned words (or phrases), lowercase, sorted.
    #[serde(default)]
    words: Vec<String>,
    /// Where deletions are logged.
    #[serde(default)]
    log_channel: Option<Id<ChannelMarker>>,
    /// Where new members are greeted.
    #[serde(default)]
    welcome_channel: Option<Id<ChannelMarker>>,
}

impl Settings {
    fn load(guild: Id<GuildMarker>) -> Result<Self> {
        Ok(kv::get_json(&settings_key(guild))?.unwrap_or_default())
    }

    fn save(&self, guild: Id<GuildMarker>) -> Result<()> {
        kv::set_json(&settings_key(guild), self)
    }

    /// Carries out `action`; returns the answer for the moderator and
    /// whether the settings changed (and need saving).
    fn apply(&mut self, action: Action) -> (String, bool) {
        match action {
            Action::AddWord(word) => {
                if self.words.contains(&word) {
                    (format!("`{word}` is banned already."), false)
                } else if self.words.len() >= MAX_WORDS {
                    (
                        format!("This server has {MAX_WORDS} banned words, the most it can have; remove one first."),
                        false,
                    )
                } else {
                    let answer =
                        format!("Banned `{word}`: messages containing it will be deleted.");
                    self.words.push(word);
                    self.words.sort();
                    (answer, true)
                }
            }
            Action::RemoveWord(word) => {
                if let Some(at) = self.words.iter().position(|w| *w == word) {
                    self.words.remove(at);
                    (format!("`{word}` is allowed again."), true)
                } else {
                    (format!("`{word}` is not banned."), false)
                }
            }
            Action::ListWords => {
                let answer = if self.words.is_empty() {
                    "No words are banned. Add one with `/modlog words add`.".to_owned()
                } else {
                    let list: Vec<String> = self.words.iter().map(|w| format!("`{w}`")).collect();
                    format!("Banned words: {}", list.join(", "))
                };
                (answer, false)
            }
            Action::LogChannel(channel) => {
                let changed = self.log_channel != channel;
                self.log_channel = channel;
                let answer = match channel {
                    Some(id) => format!("Deletions will be logged in <#{id}>."),
                    None => "Deletions will not be logged.".to_owned(),
                };
                (answer, changed)
            }
            Action::WelcomeChannel(channel) => {
                let changed = self.welcome_channel != channel;
                self.welcome_channel = channel;
                let answer = match channel {
                    Some(id) => format!("New members will be greeted in <#{id}>."),
                    None => "New members will not be greeted.".to_owned(),
                };
                (answer, changed)
            }
        }
    }
}

/// What a `/modlog` command asks for, its word checked.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Action {
    AddWord(String),
    RemoveWord(String),
    ListWords,
    LogChannel(Option<Id<ChannelMarker>>),
    WelcomeChannel(Option<Id<ChannelMarker>>),
}

impl Action {
    /// The action a command asks for; `Err` is the answer for a word the
    /// bot cannot ban.
    fn from_command(command: ModlogCommand) -> std::result::Result<Self, String> {
        Ok(match command {
            ModlogCommand::Words(WordsCommand::Add(add)) => {
                Self::AddWord(normalize_word(&add.word)?)
            }
            ModlogCommand::Words(WordsCommand::Remove(remove)) => {
                Self::RemoveWord(normalize_word(&remove.word)?)
            }
            ModlogCommand::Words(WordsCommand::List(ListWords)) => Self::ListWords,
            ModlogCommand::Channel(channel) => Self::LogChannel(channel.channel),
            ModlogCommand::Welcome(welcome) => Self::WelcomeChannel(welcome.channel),
        })
    }

    /// The subcommand that asked for it, for the log.
    fn path(&self) -> &'static str {
        match self {
            Self::AddWord(_) => "words add",
            Self::RemoveWord(_) => "words remove",
            Self::ListWords => "words list",
            Self::LogChannel(_) => "channel",
            Self::WelcomeChannel(_) => "welcome",
        }
    }
}

/// A banned word as stored: trimmed, lowercase, inner whitespace single
/// spaces. `Err` says what is wrong with it.
fn normalize_word(word: &str) -> std::result::Result<String, String> {
    let word = word
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    if !word.chars().any(is_word_char) {
        return Err("Give a word with at least one letter or digit.".to_owned());
    }
    if word.chars().count() > MAX_WORD_CHARS {
        return Err(format!(
            "That is too long: a banned word has at most {MAX_WORD_CHARS} characters."
        ));
    }
    if word.contains('`') {
        return Err("A banned word cannot contain a backtick.".to_owned());
    }
    Ok(word)
}

// --- matching -----------------------------------------------------------------

/// The first banned word that `content` contains as a whole word, in any
/// case: "Bad!" and "so bad" contain `bad`, "badge" does not.
fn find_banned<'a>(content: &str, words: &'a [String]) -> Option<&'a str> {
    let content = content.to_lowercase();
    words
        .iter()
        .find(|word| contains_whole_word(&content, word))
        .map(String::as_str)
}

/// Whether `word` occurs in `text` with no letter, digit or `_` right
/// before or after it. Both are lowercase already.
fn contains_whole_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    text.match_indices(word).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + word.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

// --- texts and keys -------------------------------------------------------------

fn welcome_text(user: Id<UserMarker>) -> String {
    format!("Welcome, <@{user}>!")
}

fn removal_text(author: Id<UserMarker>, channel: Id<ChannelMarker>) -> String {
    format!("Deleted a message by <@{author}> in <#{channel}>: contained a banned word")
}

fn deletion_text(channel: Id<ChannelMarker>, message: Id<MessageMarker>) -> String {
    format!("A message was deleted in <#{channel}> (id {message})")
}

fn settings_key(guild: Id<GuildMarker>) -> String {
    format!("{guild}:settings")
}

fn welcomed_key(guild: Id<GuildMarker>) -> String {
    format!("{guild}:welcomed")
}

fn ours_prefix(guild: Id<GuildMarker>) -> String {
    format!("{guild}:ours:")
}

fn ours_key(guild: Id<GuildMarker>, message: Id<MessageMarker>) -> String {
    format!("{}{message}", ours_prefix(guild))
}

/// Adds `key` to `recent` (oldest first, at most `cap` entries); `false`,
/// changing nothing, if it is there already.
fn remember(recent: &mut Vec<String>, key: String, cap: usize) -> bool {
    if recent.contains(&key) {
        return false;
    }
    recent.push(key);
    let excess = recent.len().saturating_sub(cap);
    recent.drain(..excess);
    true
}

/// The keys (`{prefix}{snowflake}`) to drop so that the newest `keep` stay.
/// Snowflakes grow with time; as text, a shorter one is the older.
fn oldest_beyond(keys: &[String], keep: usize) -> Vec<&String> {
    let mut sorted: Vec<&String> = keys.iter().collect();
    sorted.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    let excess = sorted.len().saturating_sub(keep);
    sorted.truncate(excess);
    sorted
}

#[cfg(test)]
mod tests;
