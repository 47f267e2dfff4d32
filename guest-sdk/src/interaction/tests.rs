use twilight_interactions::command::{CommandModel, CreateCommand, ResolvedUser};

use super::*;
use crate::fake_host::{Call, FakeHost};

/// Reads a test body, failing the test with the SDK's message.
fn parse(json: &str) -> Interaction {
    Interaction::from_json(json.as_bytes()).unwrap_or_else(|e| panic!("{e}: {json}"))
}

/// The guild slash command the host's tests send.
const GUILD_COMMAND: &str = r#"{"type":2,"id":"1234","application_id":"5678","token":"tok","version":1,"data":{"id":"1","name":"ping","type":1},"member":{"user":{"id":"42","username":"alice","discriminator":"0","avatar":null},"roles":[],"joined_at":"2021-01-01T00:00:00.000000+00:00","deaf":false,"mute":false,"flags":0},"guild_id":"99","channel_id":"77","locale":"en-US","app_permissions":"0"}"#;

#[test]
fn guild_command() {
    let i = parse(GUILD_COMMAND);
    assert_eq!(i.kind(), InteractionType::ApplicationCommand);
    assert_eq!(i.id(), Id::new(1234));
    assert_eq!(i.application_id(), Id::new(5678));
    assert_eq!(i.token(), "tok");
    assert_eq!(i.command_name(), Some("ping"));
    assert_eq!(i.command_kind(), Some(CommandType::ChatInput));
    assert_eq!(i.custom_id(), None);
    assert_eq!(i.user_id(), Some(Id::new(42)));
    assert_eq!(i.user_name(), Some("alice"));
    assert_eq!(i.display_name(), Some("alice"));
    assert_eq!(i.guild_id(), Some(Id::new(99)));
    assert_eq!(i.channel_id(), Some(Id::new(77)));
    assert_eq!(i.locale(), Some("en-US"));
    assert!(!i.is_dm());
    assert_eq!(i.option_bool("private"), None);
    assert!(i.options().is_empty());
    assert_eq!(i.json(), GUILD_COMMAND.as_bytes());
}

#[test]
fn minimal_command_in_a_dm() {
    let i = parse(
        r#"{"type":2,"id":"1","application_id":"2","token":"t","data":{"name":"count"},"user":{"id":"42","username":"alice"}}"#,
    );
    assert_eq!(i.command_name(), Some("count"));
    assert_eq!(i.user_id(), Some(Id::new(42)));
    assert_eq!(i.display_name(), Some("alice"));
    assert_eq!(i.guild_id(), None);
    assert!(i.is_dm());
    // The full model fills what twilight requires and the body left out.
    let full = i.twilight().unwrap();
    assert_eq!(full.author_id(), Some(Id::new(42)));
}

#[test]
fn minimal_guild_member_needs_only_a_user() {
    let i = parse(
        r#"{"type":2,"id":"1","application_id":"2","token":"t","data":{"id":"3","name":"count"},"guild_id":"9","member":{"user":{"id":"42","username":"alice","global_name":"Alice"},"nick":null}}"#,
    );
    assert_eq!(i.user_id(), Some(Id::new(42)));
    assert_eq!(i.display_name(), Some("Alice"));
    assert!(i
        .twilight()
        .unwrap()
        .member
        .as_ref()
        .unwrap()
        .roles
        .is_empty());
}

#[test]
fn the_head_does_not_depend_on_what_it_does_not_read() {
    // `joined_at` is not a timestamp: twilight refuses the interaction, but
    // a handler that never asks for the full model never notices.
    let i = parse(
        r#"{"type":2,"id":"1","application_id":"2","token":"t","data":{"id":"3","name":"ping"},"guild_id":"9","member":{"user":{"id":"42","username":"a"},"joined_at":17}}"#,
    );
    assert_eq!(i.command_name(), Some("ping"));
    assert_eq!(i.user_id(), Some(Id::new(42)));
    let error = i.twilight().unwrap_err();
    assert!(
        error
            .message()
            .starts_with("the interaction could not be read"),
        "{error}"
    );
}

#[test]
fn options_and_subcommands() {
    let i = parse(
        r#"{"type":2,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"data":{"id":"3","name":"todo","type":1,"options":[{"name":"add","type":1,"options":[{"name":"text","type":3,"value":"milk"},{"name":"n","type":4,"value":2},{"name":"urgent","type":5,"value":true},{"name":"who","type":6,"value":"42"},{"name":"x","type":10,"value":1.5}]}]}}"#,
    );
    assert_eq!(i.subcommand(), Some("add"));
    assert_eq!(i.option_str("text"), Some("milk"));
    assert_eq!(i.option_i64("n"), Some(2));
    assert_eq!(i.option_f64("n"), Some(2.0));
    assert_eq!(i.option_f64("x"), Some(1.5));
    assert_eq!(i.option_bool("urgent"), Some(true));
    assert_eq!(i.option_id("who"), Some(Id::new(42)));
    assert_eq!(i.option_str("n"), None);
    assert_eq!(i.option_str("missing"), None);
}

#[test]
fn autocomplete_focused_option() {
    let i = parse(
        r#"{"type":4,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"data":{"id":"3","name":"color","type":1,"options":[{"name":"name","type":3,"value":"re","focused":true}]}}"#,
    );
    assert_eq!(i.kind(), InteractionType::ApplicationCommandAutocomplete);
    assert_eq!(i.command_name(), Some("color"));
    assert_eq!(i.focused(), Some(("name", "re")));
    assert_eq!(i.option_str("name"), Some("re"));
}

#[derive(CommandModel, CreateCommand, Debug, PartialEq)]
#[command(name = "greet", desc = "Greet someone")]
struct Greet {
    /// Who
    who: ResolvedUser,
    /// How many times
    #[command(min_value = 1, max_value = 3)]
    times: Option<i64>,
}

const GREET: &str = r#"{"type":2,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"data":{"id":"3","name":"greet","type":1,"options":[{"name":"who","type":6,"value":"7"},{"name":"times","type":4,"value":2}],"resolved":{"users":{"7":{"id":"7","username":"bob","discriminator":"0","avatar":null}}}}}"#;

#[test]
fn command_models_read_options_and_resolved_objects() {
    let greet: Greet = parse(GREET).command_model().unwrap();
    assert_eq!(greet.who.resolved.name, "bob");
    assert_eq!(greet.times, Some(2));
}

#[test]
fn a_model_that_does_not_fit_says_which_option_and_what_to_do() {
    // `times` above its maximum, as an outdated registration could send.
    let body = GREET.replace(r#""value":2"#, r#""value":9"#);
    let error = parse(&body).command_model::<Greet>().unwrap_err();
    let message = error.message();
    assert!(
        message.starts_with("could not read the options of /greet: "),
        "{message}"
    );
    assert!(message.contains("times"), "{message}");
    assert!(message.contains("deploy again"), "{message}");

    let button =
        parse(r#"{"type":3,"id":"1","application_id":"2","token":"t","data":{"custom_id":"x"}}"#);
    let error = button.command_model::<Greet>().unwrap_err();
    assert!(error.message().contains("not a command"), "{error}");
}

#[test]
fn context_menu_commands_name_their_target() {
    let user = parse(
        r#"{"type":2,"id":"1","application_id":"2","token":"t","data":{"id":"3","name":"Wave","type":2,"target_id":"77"}}"#,
    );
    assert_eq!(user.command_kind(), Some(CommandType::User));
    assert_eq!(user.target_id(), Some(Id::new(77)));
    let message = parse(
        r#"{"type":2,"id":"1","application_id":"2","token":"t","data":{"id":"3","name":"Quote","type":3,"target_id":"88"}}"#,
    );
    assert_eq!(message.command_kind(), Some(CommandType::Message));
    assert_eq!(message.command_name(), Some("Quote"));
}

#[test]
fn components() {
    let i = parse(
        r#"{"type":3,"id":"1","application_id":"2","token":"t","channel_id":"77","user":{"id":"42","username":"a"},"data":{"custom_id":"again","component_type":2}}"#,
    );
    assert_eq!(i.kind(), InteractionType::MessageComponent);
    assert_eq!(i.custom_id(), Some("again"));
    assert_eq!(i.command_name(), None);
    assert_eq!(i.command_kind(), None);
    assert!(i.values().is_empty());

    // A select menu, and a button without `component_type`.
    let select = parse(
        r#"{"type":3,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"data":{"custom_id":"pick","component_type":3,"values":["a","b"]}}"#,
    );
    assert_eq!(select.values(), ["a", "b"]);
    let bare = parse(
        r#"{"type":3,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"channel":{"id":"5","type":0},"data":{"custom_id":"again"}}"#,
    );
    assert_eq!(bare.custom_id(), Some("again"));
    assert_eq!(bare.channel_id(), Some(Id::new(5)));
    assert!(bare.twilight().is_ok());
}

#[test]
fn modal_submissions_old_and_new_layout() {
    // Current layout: a label (type 18) around each text input (type 4).
    let labels = parse(
        r#"{"type":5,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"data":{"custom_id":"feedback","components":[{"type":18,"id":1,"component":{"type":4,"id":2,"custom_id":"topic","value":"bugs"}}]}}"#,
    );
    assert_eq!(labels.kind(), InteractionType::ModalSubmit);
    assert_eq!(labels.custom_id(), Some("feedback"));
    assert_eq!(labels.modal_value("topic"), Some("bugs"));
    assert_eq!(labels.modal_value("other"), None);
    assert_eq!(labels.modal_value("feedback"), None);

    // Older layout, without component ids: action rows (type 1).
    let rows = parse(
        r#"{"type":5,"id":"1","application_id":"2","token":"t","user":{"id":"42","username":"a"},"data":{"custom_id":"feedback","components":[{"type":1,"components":[{"type":4,"custom_id":"topic","value":"bugs"}]}]}}"#,
    );
    assert_eq!(rows.modal_value("topic"), Some("bugs"));
    assert!(rows.twilight().is_ok());
}

#[test]
fn realistic_discord_payload() {
    // Shaped like what Discord sends today, including fields that twilight
    // does not model (they are ignored).
    let i = parse(
        r#"{
          "app_permissions": "562949953601536",
          "application_id": "1090000000000000000",
          "attachment_size_limit": 10485760,
          "authorizing_integration_owners": {"0": "1100000000000000000"},
          "channel": {"flags": 0, "guild_id": "1100000000000000000", "id": "1100000000000000001",
                      "last_message_id": "1200000000000000000", "name": "general", "nsfw": false,
                      "parent_id": "1100000000000000002", "permissions": "2251799813685247",
                      "position": 0, "rate_limit_per_user": 0, "topic": null, "type": 0},
          "channel_id": "1100000000000000001",
          "context": 0,
          "data": {"id": "1090000000000000001", "name": "ping", "type": 1,
                   "options": [{"name": "private", "type": 5, "value": true}]},
          "entitlement_sku_ids": [],
          "entitlements": [],
          "guild": {"features": ["COMMUNITY"], "id": "1100000000000000000", "locale": "en-US"},
          "guild_id": "1100000000000000000",
          "guild_locale": "en-US",
          "id": "1200000000000000001",
          "locale": "en-GB",
          "member": {"avatar": null, "banner": null, "communication_disabled_until": null,
                     "deaf": false, "flags": 0, "joined_at": "2023-01-01T00:00:00.000000+00:00",
                     "mute": false, "nick": "Ali", "pending": false,
                     "permissions": "2251799813685247", "premium_since": null,
                     "roles": ["1100000000000000003"], "unusual_dm_activity_until": null,
                     "user": {"avatar": "a_0123456789abcdef0123456789abcdef",
                              "avatar_decoration_data": null, "clan": null, "collectibles": null,
                              "discriminator": "0", "global_name": "Alice", "id": "42",
                              "primary_guild": null, "public_flags": 0, "username": "alice"}},
          "token": "aW50ZXJhY3Rpb246MTIwMDAwMDAwMDAwMDAwMDAwMTp0b2tlbg",
          "type": 2,
          "version": 1
        }"#,
    );
    assert_eq!(i.command_name(), Some("ping"));
    assert_eq!(i.display_name(), Some("Ali"));
    assert_eq!(i.user_name(), Some("alice"));
    assert_eq!(i.locale(), Some("en-GB"));
    assert_eq!(i.channel_id(), Some(Id::new(1_100_000_000_000_000_001)));
    assert_eq!(i.option_bool("private"), Some(true));
    assert_eq!(i.twilight().unwrap().attachment_size_limit, 10_485_760);
}

/// The smallest bodies the SDK accepts, one per interaction type; the
/// host's tests and `appliance invoke` users can start from these. Each
/// must also give the full model.
#[test]
fn documented_minimal_bodies() {
    let bodies = [
        (
            r#"{"type":2,"id":"1","application_id":"2","token":"t","guild_id":"9","channel_id":"8","data":{"name":"ping"},"member":{"user":{"id":"42","username":"alice"}}}"#,
            InteractionType::ApplicationCommand,
        ),
        (
            r#"{"type":2,"id":"1","application_id":"2","token":"t","data":{"id":"3","name":"ping"},"user":{"id":"42","username":"alice"}}"#,
            InteractionType::ApplicationCommand,
        ),
        (
            r#"{"type":4,"id":"1","application_id":"2","token":"t","data":{"id":"3","name":"ping","options":[{"name":"q","type":3,"value":"ab","focused":true}]},"user":{"id":"42","username":"alice"}}"#,
            InteractionType::ApplicationCommandAutocomplete,
        ),
        (
            r#"{"type":3,"id":"1","application_id":"2","token":"t","data":{"custom_id":"again","component_type":2},"user":{"id":"42","username":"alice"}}"#,
            InteractionType::MessageComponent,
        ),
        (
            r#"{"type":5,"id":"1","application_id":"2","token":"t","data":{"custom_id":"form","components":[{"type":18,"component":{"type":4,"custom_id":"topic","value":"bugs"}}]},"user":{"id":"42","username":"alice"}}"#,
            InteractionType::ModalSubmit,
        ),
    ];
    for (body, kind) in bodies {
        let i = parse(body);
        assert_eq!(i.kind(), kind, "{body}");
        assert_eq!(i.user_id(), Some(Id::new(42)), "{body}");
        let full = i.twilight().unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(full.kind, kind, "{body}");
    }
}

#[test]
fn errors_say_what_is_wrong() {
    let not_json = Interaction::from_json(b"{").unwrap_err();
    assert!(not_json.message().contains("not valid JSON"), "{not_json}");
    let no_token = Interaction::from_json(
        br#"{"type":2,"id":"1","application_id":"2","data":{"id":"3","name":"x"}}"#,
    )
    .unwrap_err();
    assert!(no_token.message().contains("token"), "{no_token}");
    let unknown =
        Interaction::from_json(br#"{"type":9,"id":"1","application_id":"2","token":"t"}"#)
            .unwrap_err();
    assert!(unknown.message().contains("type 9"), "{unknown}");
}

const COMMAND: &str =
    r#"{"type":2,"id":"1","application_id":"2","token":"tok","data":{"id":"3","name":"x"}}"#;

#[test]
fn reply_and_deferrals_send_the_initial_response_through_the_host() {
    type Send = fn(&Interaction) -> Result<()>;
    let cases: [(Send, &str); 4] = [
        (|i| i.reply("hi"), r#"{"type":4,"data":{"content":"hi"}}"#),
        (|i| i.defer(), r#"{"type":5}"#),
        (|i| i.defer_ephemeral(), r#"{"type":5,"data":{"flags":64}}"#),
        (|i| i.defer_update(), r#"{"type":6}"#),
    ];
    for (send, expected) in cases {
        let (host, _installed) = FakeHost::install(200, "{}");
        send(&parse(COMMAND)).unwrap();
        assert_eq!(host.calls(), [Call::Respond(expected.into())]);
    }
}

#[test]
fn a_second_initial_response_is_refused_with_the_hosts_reason() {
    let (_host, _installed) = FakeHost::install(200, "{}");
    let i = parse(COMMAND);
    i.defer().unwrap();
    let error = i.reply("late").unwrap_err();
    assert_eq!(
        error.message(),
        "could not send the initial response: the interaction already has its initial response"
    );
}

#[test]
fn follow_up_posts_the_message_and_returns_its_id() {
    let (host, _installed) = FakeHost::install(200, r#"{"id":"555","content":"more"}"#);
    let id = parse(COMMAND).follow_up("more").unwrap();
    assert_eq!(id, Id::new(555));
    assert_eq!(
        host.calls(),
        [Call::Discord {
            method: "POST".into(),
            path: "/webhooks/2/tok".into(),
            body: Some(r#"{"content":"more"}"#.into()),
        }]
    );
}

#[test]
fn follow_up_errors_name_the_cause() {
    let (_host, _installed) = FakeHost::install(404, r#"{"message":"Unknown Webhook"}"#);
    let error = parse(COMMAND).follow_up("more").unwrap_err();
    assert!(error.message().contains("404"), "{error}");

    let (_host, _installed) = FakeHost::install(200, "{}");
    let error = parse(COMMAND).follow_up("more").unwrap_err();
    assert!(error.message().contains("no message id"), "{error}");
}

#[test]
fn edit_and_delete_reply_address_the_original() {
    let (host, _installed) = FakeHost::install(200, "{}");
    let i = parse(COMMAND);
    i.edit_reply(Response::message("new").ephemeral()).unwrap();
    i.delete_reply().unwrap();
    assert_eq!(
        host.calls(),
        [
            Call::Discord {
                method: "PATCH".into(),
                path: "/webhooks/2/tok/messages/@original".into(),
                body: Some(r#"{"content":"new","flags":64}"#.into()),
            },
            Call::Discord {
                method: "DELETE".into(),
                path: "/webhooks/2/tok/messages/@original".into(),
                body: None,
            },
        ]
    );
}

#[test]
fn debug_output_leaves_the_token_out() {
    let shown = format!("{:?}", parse(GUILD_COMMAND));
    assert!(!shown.contains("tok\""), "{shown}");
    assert!(shown.contains("ping") && shown.contains("1234"), "{shown}");
}
