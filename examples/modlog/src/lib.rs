//! A moderation bot: shows Discord events (world `event-bot`) next to a
//! slash command, with per-server settings in the key-value store.
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
//! State, all in the key-value store under the server's ID:
//!
//! | key | value |
//! |---|---|
//! | `{guild}:settings` | [`Settings`] as JSON: words, log and welcome channels |
//! | `{guild}:ours:{message}` | a message this bot deleted, until its `MESSAGE_DELETE` arrives (the newest 50 are kept) |
//! | `{guild}:welcomed` | the last 20 members greeted (`user@joined_at`), so a redelivered `GUILD_MEMBER_ADD` greets once |
//!
//! Marks of the bot's own deletions are kept in the store rather than in
//! memory because the `MESSAGE_DELETE` may run in another instance than the
//! `MESSAGE_CREATE` that caused it. Each deletion has a key of its own, so
//! two deletions handled at once in different instances cannot overwrite
//! each other's mark.
//!
//! Events arrive at least once. A redelivered `MESSAGE_CREATE` finds its
//! message gone (Discord answers 404) and logs nothing; a redelivered
//! `GUILD_MEMBER_ADD` is in `{guild}:welcomed`. A redelivered
//! `MESSAGE_DELETE` of someone else's message is logged twice: harmless.
//!
//! Build, from the repository root:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2 -p modlog-bot
//! ```
//!
//! and deploy it with a token and intents (see README.md).

use appliance_sdk::discord::{self, DiscordError};
use appliance_sdk::model::application::interaction::application_command::{
    CommandDataOption, CommandOptionValue,
};
use appliance_sdk::model::gateway::payload::incoming::{MemberAdd, MessageCreate, MessageDelete};
use appliance_sdk::model::gateway::presence::{ActivityType, MinimalActivity, Status};
use appliance_sdk::model::id::Id;
use appliance_sdk::{gateway, kv, log, Bot, Event, EventBot, Interaction, Response, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Banned words a server may have.
const MAX_WORDS: usize = 100;
/// The longest banned word (or phrase), in characters.
const MAX_WORD_CHARS: usize = 50;
/// Marks of the bot's own deletions kept per server.
const OURS_KEPT: usize = 50;
/// Greeted members remembered per server, against redeliveries.
const WELCOMES_KEPT: usize = 20;

/// The bot. Its state is in the key-value store, none in memory.
struct Modlog;

impl Bot for Modlog {
    fn handle(interaction: Interaction) -> Result<Response> {
        if interaction.command_name() != Some("modlog") {
            return Ok(Response::message("unknown command").ephemeral());
        }
        let Some(guild) = interaction.guild_id() else {
            return Ok(
                Response::message("Use /modlog in a server: its settings are per server.")
                    .ephemeral(),
            );
        };
        let path = subcommand_path(&interaction);
        let action = match parse_action(
            &path,
            interaction.option_str("word"),
            interaction.option_id("channel"),
        ) {
            Ok(action) => action,
            Err(why) => return Ok(Response::message(why).ephemeral()),
        };
        let mut settings = Settings::load(guild)?;
        let (answer, changed) = settings.apply(action);
        if changed {
            settings.save(guild)?;
            let who = interaction.user_id().unwrap_or(0);
            log::info(format!(
                "guild {guild}: user {who} ran /modlog {}",
                path.join(" ")
            ));
        }
        Ok(Response::message(answer).ephemeral())
    }
}

impl EventBot for Modlog {
    fn on_event(event: Event) -> Result<()> {
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

// Exports `handle-interaction` and `handle-event` (world `event-bot`).
appliance_sdk::bot!(Modlog, events);

// --- events -----------------------------------------------------------------

/// `GUILD_MEMBER_ADD`: greets a new member in the welcome channel, once.
fn greet(member: &MemberAdd) -> Result<()> {
    if member.user.bot {
        return Ok(());
    }
    let guild = member.guild_id.get();
    let Some(channel) = Settings::load(guild)?.welcome_channel else {
        return Ok(());
    };
    let user = member.user.id.get();
    let joined = member.joined_at.map_or(0, |at| at.as_secs());
    let key = welcomed_key(guild);
    let mut recent: Vec<String> = kv::get_json(&key)?.unwrap_or_default();
    if !remember(&mut recent, format!("{user}@{joined}"), WELCOMES_KEPT) {
        return Ok(()); // a redelivery: greeted already
    }
    kv::set_json(&key, &recent)?;
    post(channel, &welcome_text(user), Mentions::Users)?;
    Ok(())
}

/// `MESSAGE_CREATE`: deletes a message with a banned word, and logs that.
fn moderate(message: &MessageCreate) -> Result<()> {
    let Some(guild) = message.guild_id.map(|id| id.get()) else {
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
    let (channel, id, author) = (
        message.channel_id.get(),
        message.id.get(),
        message.author.id.get(),
    );

    // Mark the deletion as ours before making it: its MESSAGE_DELETE may be
    // handled by another instance as soon as Discord has it.
    let mark = ours_key(guild, id);
    kv::set(&mark, b"1")?;
    match discord::delete_message(Id::new(channel), Id::new(id)) {
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
                    &format!(
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
        post(log_channel, &removal_text(author, channel), Mentions::None)?;
    }
    Ok(())
}

/// `MESSAGE_DELETE`: logs a deletion, unless it was this bot's own.
fn log_deletion(deleted: &MessageDelete) -> Result<()> {
    let Some(guild) = deleted.guild_id.map(|id| id.get()) else {
        return Ok(());
    };
    let mark = ours_key(guild, deleted.id.get());
    if kv::get(&mark)?.is_some() {
        kv::delete(&mark)?;
        return Ok(()); // ours, and logged when we deleted it
    }
    if let Some(log_channel) = Settings::load(guild)?.log_channel {
        post(
            log_channel,
            &deletion_text(deleted.channel_id.get(), deleted.id.get()),
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
fn forget_old_marks(guild: u64) -> Result<()> {
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
fn post(channel: u64, content: &str, mentions: Mentions) -> Result<()> {
    let parse = match mentions {
        Mentions::Users => json!(["users"]),
        Mentions::None => json!([]),
    };
    discord::call(
        "POST",
        &format!("/channels/{channel}/messages"),
        Some(&json!({ "content": content, "allowed_mentions": { "parse": parse } })),
    )?;
    Ok(())
}

// --- settings and the command -------------------------------------------------

/// A server's settings, stored as JSON under `{guild}:settings`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Settings {
    /// Banned words (or phrases), lowercase, sorted.
    #[serde(default)]
    words: Vec<String>,
    /// Where deletions are logged.
    #[serde(default)]
    log_channel: Option<u64>,
    /// Where new members are greeted.
    #[serde(default)]
    welcome_channel: Option<u64>,
}

impl Settings {
    fn load(guild: u64) -> Result<Self> {
        Ok(kv::get_json(&settings_key(guild))?.unwrap_or_default())
    }

    fn save(&self, guild: u64) -> Result<()> {
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

/// What a `/modlog` command asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Action {
    AddWord(String),
    RemoveWord(String),
    ListWords,
    LogChannel(Option<u64>),
    WelcomeChannel(Option<u64>),
}

/// Reads a `/modlog` command from its subcommand path (`["words", "add"]`)
/// and options. `Err` is the answer for a malformed one.
fn parse_action(
    path: &[&str],
    word: Option<&str>,
    channel: Option<u64>,
) -> std::result::Result<Action, String> {
    match path {
        ["words", "add"] => Ok(Action::AddWord(normalize_word(word.unwrap_or(""))?)),
        ["words", "remove"] => Ok(Action::RemoveWord(normalize_word(word.unwrap_or(""))?)),
        ["words", "list"] => Ok(Action::ListWords),
        ["channel"] => Ok(Action::LogChannel(channel)),
        ["welcome"] => Ok(Action::WelcomeChannel(channel)),
        _ => Err(format!(
            "Unknown subcommand `{}`; re-register the bot's commands.",
            path.join(" ")
        )),
    }
}

/// The names of the subcommand group and subcommand the user chose.
fn subcommand_path(interaction: &Interaction) -> Vec<&str> {
    let mut path = Vec::new();
    let mut options = interaction.command().map_or(&[][..], |c| &c.options[..]);
    while let [CommandDataOption {
        name,
        value: CommandOptionValue::SubCommand(inner) | CommandOptionValue::SubCommandGroup(inner),
    }] = options
    {
        path.push(name.as_str());
        options = inner;
    }
    path
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

fn welcome_text(user: u64) -> String {
    format!("Welcome, <@{user}>!")
}

fn removal_text(author: u64, channel: u64) -> String {
    format!("Deleted a message by <@{author}> in <#{channel}>: contained a banned word")
}

fn deletion_text(channel: u64, message: u64) -> String {
    format!("A message was deleted in <#{channel}> (id {message})")
}

fn settings_key(guild: u64) -> String {
    format!("{guild}:settings")
}

fn welcomed_key(guild: u64) -> String {
    format!("{guild}:welcomed")
}

fn ours_prefix(guild: u64) -> String {
    format!("{guild}:ours:")
}

fn ours_key(guild: u64, message: u64) -> String {
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
mod tests {
    use super::*;

    fn words(list: &[&str]) -> Vec<String> {
        list.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn banned_words_match_whole_words_in_any_case() {
        let banned = words(&["bad", "no way"]);
        assert_eq!(find_banned("this is BAD", &banned), Some("bad"));
        assert_eq!(find_banned("Bad!", &banned), Some("bad"));
        assert_eq!(find_banned("(bad)", &banned), Some("bad"));
        assert_eq!(find_banned("bad", &banned), Some("bad"));
        assert_eq!(find_banned("No Way, really", &banned), Some("no way"));
        assert_eq!(find_banned("a badge", &banned), None);
        assert_eq!(find_banned("sinbad", &banned), None);
        assert_eq!(find_banned("bad_idea", &banned), None);
        assert_eq!(find_banned("badbad bad", &banned), Some("bad"));
        assert_eq!(find_banned("nothing here", &banned), None);
        assert_eq!(find_banned("anything", &[]), None);
        // Unicode letters are letters: "übad" is another word.
        assert_eq!(find_banned("übad", &banned), None);
        assert_eq!(find_banned("ÜBER", &words(&["über"])), Some("über"));
    }

    #[test]
    fn words_are_normalized_or_refused() {
        assert_eq!(normalize_word("  Bad "), Ok("bad".to_owned()));
        assert_eq!(normalize_word("No\t  WAY"), Ok("no way".to_owned()));
        assert!(normalize_word("").is_err());
        assert!(normalize_word("  !! ").is_err());
        assert!(normalize_word("a`b").is_err());
        assert!(normalize_word(&"x".repeat(MAX_WORD_CHARS + 1)).is_err());
        assert!(normalize_word(&"x".repeat(MAX_WORD_CHARS)).is_ok());
    }

    #[test]
    fn commands_become_actions() {
        assert_eq!(
            parse_action(&["words", "add"], Some("Bad"), None),
            Ok(Action::AddWord("bad".into()))
        );
        assert_eq!(
            parse_action(&["words", "remove"], Some("bad"), None),
            Ok(Action::RemoveWord("bad".into()))
        );
        assert_eq!(
            parse_action(&["words", "list"], None, None),
            Ok(Action::ListWords)
        );
        assert_eq!(
            parse_action(&["channel"], None, Some(9)),
            Ok(Action::LogChannel(Some(9)))
        );
        assert_eq!(
            parse_action(&["welcome"], None, None),
            Ok(Action::WelcomeChannel(None))
        );
        assert!(parse_action(&["words", "add"], None, None).is_err());
        assert!(parse_action(&["purge"], None, None).is_err());
        assert!(parse_action(&[], None, None).is_err());
    }

    #[test]
    fn settings_change_as_the_answers_say() {
        let mut settings = Settings::default();
        assert!(settings.apply(Action::AddWord("zed".into())).1);
        assert!(settings.apply(Action::AddWord("bad".into())).1);
        let (again, changed) = settings.apply(Action::AddWord("bad".into()));
        assert!(!changed);
        assert!(again.contains("already"), "{again}");
        assert_eq!(settings.words, words(&["bad", "zed"]));
        assert_eq!(
            settings.apply(Action::ListWords),
            ("Banned words: `bad`, `zed`".to_owned(), false)
        );
        assert!(settings.apply(Action::RemoveWord("zed".into())).1);
        assert!(!settings.apply(Action::RemoveWord("zed".into())).1);
        assert_eq!(
            settings.apply(Action::LogChannel(Some(5))),
            ("Deletions will be logged in <#5>.".to_owned(), true)
        );
        assert!(!settings.apply(Action::LogChannel(Some(5))).1);
        assert!(settings.apply(Action::WelcomeChannel(Some(6))).1);
        assert!(settings.apply(Action::WelcomeChannel(None)).1);
        assert_eq!(
            settings,
            Settings {
                words: words(&["bad"]),
                log_channel: Some(5),
                welcome_channel: None
            }
        );
    }

    #[test]
    fn a_server_has_at_most_max_words() {
        let mut settings = Settings {
            words: (0..MAX_WORDS).map(|i| format!("w{i}")).collect(),
            ..Settings::default()
        };
        let (answer, changed) = settings.apply(Action::AddWord("one more".into()));
        assert!(!changed, "{answer}");
        assert_eq!(settings.words.len(), MAX_WORDS);
    }

    #[test]
    fn settings_read_older_or_partial_json() {
        let settings: Settings = serde_json::from_str(r#"{"words":["bad"]}"#).unwrap();
        assert_eq!(settings.log_channel, None);
        let settings: Settings = serde_json::from_str("{}").unwrap();
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn texts_and_keys() {
        assert_eq!(welcome_text(42), "Welcome, <@42>!");
        assert_eq!(
            removal_text(42, 7),
            "Deleted a message by <@42> in <#7>: contained a banned word"
        );
        assert_eq!(
            deletion_text(7, 99),
            "A message was deleted in <#7> (id 99)"
        );
        assert_eq!(settings_key(1), "1:settings");
        assert_eq!(ours_key(1, 99), "1:ours:99");
    }

    #[test]
    fn remember_keeps_the_newest_and_refuses_repeats() {
        let mut recent = Vec::new();
        assert!(remember(&mut recent, "a".into(), 2));
        assert!(!remember(&mut recent, "a".into(), 2));
        assert!(remember(&mut recent, "b".into(), 2));
        assert!(remember(&mut recent, "c".into(), 2));
        assert_eq!(recent, words(&["b", "c"]));
    }

    #[test]
    fn oldest_marks_go_first_by_snowflake_not_by_text() {
        let keys = words(&["1:ours:100", "1:ours:99", "1:ours:1000", "1:ours:101"]);
        assert_eq!(oldest_beyond(&keys, 2), vec!["1:ours:99", "1:ours:100"]);
        assert!(oldest_beyond(&keys, 4).is_empty());
        assert!(oldest_beyond(&keys, 10).is_empty());
    }

    /// Every subcommand in `commands.json` (what the README registers) is
    /// one the bot understands, with the options it reads.
    #[test]
    fn the_registered_commands_are_the_ones_handled() {
        let commands: serde_json::Value =
            serde_json::from_str(include_str!("../commands.json")).unwrap();
        let modlog = &commands[0];
        assert_eq!(modlog["name"], "modlog");
        let mut paths = Vec::new();
        for option in modlog["options"].as_array().unwrap() {
            let name = option["name"].as_str().unwrap();
            match option["type"].as_u64() {
                Some(2) => {
                    for sub in option["options"].as_array().unwrap() {
                        paths.push((vec![name, sub["name"].as_str().unwrap()], sub));
                    }
                }
                _ => paths.push((vec![name], option)),
            }
        }
        assert_eq!(paths.len(), 5);
        for (path, command) in paths {
            let takes = |option: &str| {
                command["options"]
                    .as_array()
                    .is_some_and(|options| options.iter().any(|o| o["name"] == option))
            };
            let word = takes("word").then_some("bad");
            let channel = takes("channel").then_some(1);
            assert!(
                parse_action(&path, word, channel).is_ok(),
                "{path:?} is registered but not handled"
            );
        }
    }

    #[test]
    fn subcommand_paths_come_from_the_interaction() {
        let interaction = Interaction::from_json(
            br#"{"type":2,"id":"1","application_id":"2","token":"t","guild_id":"3",
                "member":{"user":{"id":"4","username":"mod"}},
                "data":{"id":"5","name":"modlog","options":[
                    {"name":"words","type":2,"options":[
                        {"name":"add","type":1,"options":[{"name":"word","type":3,"value":"Bad"}]}]}]}}"#,
        )
        .unwrap();
        assert_eq!(subcommand_path(&interaction), vec!["words", "add"]);
        assert_eq!(interaction.option_str("word"), Some("Bad"));
    }
}
