//! The bot's logic in pieces, then whole: commands and events run through
//! [`TestBot`] against an in-memory node.

use appliance_sdk::testing::{GatewayCommand, TestBot, TestEvent, TestInteraction};
use serde_json::{json, Value};

use super::*;

const GUILD: u64 = 1;
const LOG: u64 = 77;
const GENERAL: u64 = 55;

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|w| (*w).to_owned()).collect()
}

// --- pieces ---------------------------------------------------------------------

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
        settings.apply(Action::LogChannel(Some(Id::new(5)))),
        ("Deletions will be logged in <#5>.".to_owned(), true)
    );
    assert!(!settings.apply(Action::LogChannel(Some(Id::new(5)))).1);
    assert!(settings.apply(Action::WelcomeChannel(Some(Id::new(6)))).1);
    assert!(settings.apply(Action::WelcomeChannel(None)).1);
    assert_eq!(
        settings,
        Settings {
            words: words(&["bad"]),
            log_channel: Some(Id::new(5)),
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
    // Versions before typed IDs stored channels as numbers.
    let settings: Settings = serde_json::from_str(r#"{"words":["bad"],"log_channel":5}"#).unwrap();
    assert_eq!(settings.log_channel, Some(Id::new(5)));
    assert_eq!(settings.welcome_channel, None);
    let settings: Settings = serde_json::from_str("{}").unwrap();
    assert_eq!(settings, Settings::default());
}

#[test]
fn texts_and_keys() {
    assert_eq!(welcome_text(Id::new(42)), "Welcome, <@42>!");
    assert_eq!(
        removal_text(Id::new(42), Id::new(7)),
        "Deleted a message by <@42> in <#7>: contained a banned word"
    );
    assert_eq!(
        deletion_text(Id::new(7), Id::new(99)),
        "A message was deleted in <#7> (id 99)"
    );
    assert_eq!(settings_key(Id::new(1)), "1:settings");
    assert_eq!(ours_key(Id::new(1), Id::new(99)), "1:ours:99");
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

// --- the command, whole ---------------------------------------------------------

/// `/modlog` in the server, by a moderator.
fn modlog() -> TestInteraction {
    TestInteraction::command("modlog")
        .guild(GUILD)
        .user(42, "mod")
}

fn answer(bot: &mut TestBot<Modlog>, interaction: TestInteraction) -> String {
    let answer = bot.run(interaction).unwrap();
    assert!(answer.is_ephemeral(), "{answer:?}");
    answer.content().unwrap().to_owned()
}

#[test]
fn moderators_configure_it_with_the_command() {
    let mut bot = TestBot::<Modlog>::new();
    let add = |word: &str| {
        modlog()
            .subcommand("words")
            .subcommand("add")
            .option("word", word)
    };
    assert_eq!(
        answer(&mut bot, add("  Darn ")),
        "Banned `darn`: messages containing it will be deleted."
    );
    assert_eq!(
        bot.logs()[0].message,
        "guild 1: user 42 ran /modlog words add"
    );
    assert_eq!(answer(&mut bot, add("darn")), "`darn` is banned already.");
    assert!(bot.logs().is_empty(), "nothing changed, nothing logged");
    assert_eq!(
        answer(&mut bot, add("!!")),
        "Give a word with at least one letter or digit."
    );
    assert_eq!(
        answer(&mut bot, modlog().subcommand("words").subcommand("list")),
        "Banned words: `darn`"
    );
    assert_eq!(
        answer(
            &mut bot,
            modlog()
                .subcommand("channel")
                .option("channel", Id::<ChannelMarker>::new(LOG))
        ),
        "Deletions will be logged in <#77>."
    );
    assert_eq!(
        answer(&mut bot, modlog().subcommand("welcome")),
        "New members will not be greeted."
    );
    assert_eq!(
        answer(
            &mut bot,
            modlog()
                .subcommand("words")
                .subcommand("remove")
                .option("word", "DARN")
        ),
        "`darn` is allowed again."
    );
    assert_eq!(
        bot.kv_get_json::<Value>("1:settings"),
        Some(json!({ "words": [], "log_channel": "77", "welcome_channel": null }))
    );
}

#[test]
fn the_command_is_per_server() {
    let mut bot = TestBot::<Modlog>::new();
    let in_dm = TestInteraction::command("modlog")
        .subcommand("words")
        .subcommand("list");
    assert_eq!(
        answer(&mut bot, in_dm),
        "Use /modlog in a server: its settings are per server."
    );
}

/// The registration is the one `commands.json` held before the command
/// was declared in code.
#[test]
fn declares_modlog_for_servers_and_moderators() {
    let commands = TestBot::<Modlog>::commands().unwrap();
    let modlog = &commands[0];
    assert_eq!(modlog["name"], "modlog");
    assert_eq!(modlog["description"], "Moderation settings for this server");
    assert_eq!(modlog["default_member_permissions"], "32");
    assert_eq!(modlog["contexts"], json!([0]));
    let options = modlog["options"].as_array().unwrap();
    let shape: Vec<(&str, u64)> = options
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["type"].as_u64().unwrap()))
        .collect();
    assert_eq!(shape, [("words", 2), ("channel", 1), ("welcome", 1)]);
    let add = &options[0]["options"][0];
    assert_eq!(add["name"], "add");
    assert_eq!(add["options"][0]["required"], true);
    assert_eq!(add["options"][0]["max_length"], 50);
    let channel = &options[1]["options"][0];
    assert_eq!(channel["type"], 7);
    assert_eq!(channel["channel_types"], json!([0, 5]));
    assert_eq!(
        channel.get("required").cloned().unwrap_or(json!(false)),
        false
    );
}

// --- events, whole --------------------------------------------------------------

/// A bot configured to ban "darn", log in #77 and greet in #55.
fn configured() -> TestBot<Modlog> {
    let mut bot = TestBot::<Modlog>::new();
    bot.kv_set(
        "1:settings",
        json!({ "words": ["darn"], "log_channel": LOG, "welcome_channel": GENERAL }).to_string(),
    )
    .unwrap();
    bot
}

/// A MESSAGE_CREATE's payload: a message by user 99 in #55 of the server.
fn message(id: u64, content: &str) -> Value {
    json!({
        "id": id.to_string(), "channel_id": GENERAL.to_string(), "guild_id": GUILD.to_string(),
        "author": { "id": "99", "username": "someone", "discriminator": "0", "avatar": null },
        "content": content, "timestamp": "2026-11-30T00:00:00.000000+00:00",
        "edited_timestamp": null, "tts": false, "mention_everyone": false, "mentions": [],
        "mention_roles": [], "attachments": [], "embeds": [], "pinned": false, "type": 0,
    })
}

fn message_create(id: u64, content: &str) -> TestEvent {
    TestEvent::new("MESSAGE_CREATE", message(id, content))
}

fn message_delete(id: u64) -> TestEvent {
    TestEvent::new(
        "MESSAGE_DELETE",
        json!({ "id": id.to_string(), "channel_id": GENERAL.to_string(), "guild_id": GUILD.to_string() }),
    )
}

#[test]
fn a_banned_word_is_deleted_and_the_deletion_logged_once() {
    let mut bot = configured();
    bot.event(message_create(101, "well, Darn it")).unwrap();
    let calls = bot.discord_calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(
        (calls[0].method.as_str(), calls[0].path.as_str()),
        ("DELETE", "/channels/55/messages/101")
    );
    assert_eq!(
        (calls[1].method.as_str(), calls[1].path.as_str()),
        ("POST", "/channels/77/messages")
    );
    assert_eq!(
        calls[1].body,
        Some(json!({
            "content": "Deleted a message by <@99> in <#55>: contained a banned word",
            "allowed_mentions": { "parse": [] },
        }))
    );
    assert!(
        bot.kv_get("1:ours:101").is_some(),
        "the deletion is marked ours"
    );

    // Its MESSAGE_DELETE is ours: not logged again, and the mark goes.
    bot.event(message_delete(101)).unwrap();
    assert!(bot.discord_calls().is_empty());
    assert_eq!(bot.kv_get("1:ours:101"), None);

    // Someone else's deletion is logged.
    bot.event(message_delete(102)).unwrap();
    let calls = bot.discord_calls();
    assert_eq!(
        calls[0].body.as_ref().unwrap()["content"],
        "A message was deleted in <#55> (id 102)"
    );
}

#[test]
fn clean_messages_bots_and_direct_messages_are_left_alone() {
    let mut bot = configured();
    bot.event(message_create(102, "all fine here")).unwrap();
    assert!(bot.discord_calls().is_empty());

    let mut payload = message(103, "darn");
    payload["author"]["bot"] = json!(true);
    bot.event(TestEvent::new("MESSAGE_CREATE", payload.clone()))
        .unwrap();
    assert!(bot.discord_calls().is_empty());

    payload["author"]["bot"] = json!(false);
    payload.as_object_mut().unwrap().remove("guild_id");
    bot.event(TestEvent::new("MESSAGE_CREATE", payload))
        .unwrap();
    assert!(bot.discord_calls().is_empty());
}

#[test]
fn a_redelivered_message_is_gone_and_logs_nothing() {
    let mut bot = configured();
    bot.reply_to(
        "DELETE",
        "/channels/55/messages/101",
        404,
        json!({ "message": "Unknown Message", "code": 10008 }),
    );
    bot.event(message_create(101, "darn")).unwrap();
    assert_eq!(bot.discord_calls().len(), 1, "only the attempt to delete");
    assert_eq!(bot.kv_get("1:ours:101"), None);
}

#[test]
fn a_refused_deletion_is_logged_with_the_reason() {
    let mut bot = configured();
    bot.reply_to(
        "DELETE",
        "/channels/55/messages/101",
        403,
        json!({ "message": "Missing Permissions", "code": 50013 }),
    );
    bot.event(message_create(101, "darn")).unwrap();
    let calls = bot.discord_calls();
    let logged = calls[1].body.as_ref().unwrap()["content"].as_str().unwrap();
    assert!(
        logged.starts_with("Could not delete a message by <@99> in <#55>"),
        "{logged}"
    );
    assert!(logged.contains("Missing Permissions"), "{logged}");
    assert_eq!(bot.kv_get("1:ours:101"), None);
}

#[test]
fn new_members_are_greeted_once() {
    let mut bot = configured();
    let joined = TestEvent::new(
        "GUILD_MEMBER_ADD",
        json!({
            "guild_id": GUILD.to_string(), "roles": [], "joined_at": "2026-01-01T00:00:00.000000+00:00",
            "deaf": false, "mute": false, "flags": 0,
            "user": { "id": "42", "username": "alice", "discriminator": "0", "avatar": null },
        }),
    );
    bot.event(joined.clone()).unwrap();
    let calls = bot.discord_calls();
    assert_eq!(calls[0].path, "/channels/55/messages");
    assert_eq!(
        calls[0].body,
        Some(json!({ "content": "Welcome, <@42>!", "allowed_mentions": { "parse": ["users"] } }))
    );
    // Delivered again (at least once): no second greeting.
    bot.event(joined).unwrap();
    assert!(bot.discord_calls().is_empty());
}

#[test]
fn ready_sets_the_presence_and_drops_are_logged() {
    let mut bot = TestBot::<Modlog>::new();
    bot.event(TestEvent::new("READY", json!({
        "v": 10, "user": { "id": "5", "username": "modlog", "discriminator": "0", "avatar": null, "bot": true },
        "guilds": [], "session_id": "", "resume_gateway_url": "", "shard": [0, 1],
        "application": { "id": "5", "flags": 0 },
    })))
    .unwrap();
    let [GatewayCommand::UpdatePresence(presence)] = &bot.gateway_commands()[..] else {
        panic!("{:?}", bot.gateway_commands())
    };
    assert_eq!(presence["activities"][0]["name"], "for banned words");

    bot.event(TestEvent::new(
        "APPLIANCE_EVENTS_DROPPED",
        json!({ "count": 3, "first_sequence": 10, "last_sequence": 12 }),
    ))
    .unwrap();
    assert_eq!(
        bot.logs()[0].message,
        "the host dropped 3 events (sequence 10 to 12): some messages were not checked"
    );
}

/// The node's end-to-end test sends options the way Discord sends them to
/// a bot that registered the command, without `resolved` data.
#[test]
fn reads_the_node_tests_interactions() {
    let mut bot = TestBot::<Modlog>::new();
    let body = |options: Value| {
        json!({
            "type": 2, "id": "1180000000000000001", "application_id": "5300", "token": "interaction-token",
            "version": 1, "data": { "id": "1180000000000000002", "name": "modlog", "type": 1, "options": options },
            "guild_id": "1180000000000000003", "channel_id": "1180000000000000004",
            "member": {
                "user": { "id": "42", "username": "user42", "discriminator": "0", "avatar": null, "global_name": null },
                "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false,
                "flags": 0, "permissions": "0"
            },
            "locale": "en-US", "app_permissions": "0", "entitlements": [],
            "authorizing_integration_owners": {}, "context": 0
        })
    };
    let channel = bot
        .run(TestInteraction::raw(body(
            json!([{"type": 1, "name": "channel", "options": [
                {"type": 7, "name": "channel", "value": "1180000000000000077"}
            ]}]),
        )))
        .unwrap();
    assert_eq!(
        channel.content(),
        Some("Deletions will be logged in <#1180000000000000077>.")
    );
    let add = bot
        .run(TestInteraction::raw(body(json!([{"type": 2, "name": "words", "options": [
            {"type": 1, "name": "add", "options": [{"type": 3, "name": "word", "value": "darn"}]}
        ]}]))))
        .unwrap();
    assert_eq!(
        String::from_utf8(add.to_json().unwrap()).unwrap(),
        r#"{"type":4,"data":{"content":"Banned `darn`: messages containing it will be deleted.","flags":64}}"#
    );
}
