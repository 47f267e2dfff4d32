//! [`TestBot`] driving real routers: what a bot does reaches the records,
//! what a test scripts reaches the bot.

use serde_json::json;

use super::*;
use crate::model::http::interaction::InteractionResponseType;
use crate::prelude::*;

/// Choices of a string option.
#[derive(CommandOption, CreateOption, Clone, Copy, Debug, PartialEq)]
enum Size {
    #[option(name = "small", value = "s")]
    Small,
    #[option(name = "large", value = "l")]
    Large,
}

/// A command with an option of every common type.
#[derive(CommandModel, CreateCommand)]
#[command(name = "order", desc = "Order something")]
struct Order {
    /// What
    item: String,
    /// How many
    count: i64,
    /// How big
    size: Size,
    /// Weight in kg
    weight: Option<f64>,
    /// Gift-wrapped
    gift: Option<bool>,
    /// For whom
    to: Option<ResolvedUser>,
    /// Where to announce it
    channel: Option<Id<ChannelMarker>>,
    /// Who may collect it
    role: Option<Id<RoleMarker>>,
}

/// A command with subcommands in a group.
#[derive(CommandModel, CreateCommand)]
#[command(name = "notes", desc = "Your notes")]
enum Notes {
    #[command(name = "note")]
    Note(NoteGroup),
}

#[derive(CommandModel, CreateCommand)]
#[command(name = "note", desc = "One note")]
enum NoteGroup {
    #[command(name = "add")]
    Add(AddNote),
}

#[derive(CommandModel, CreateCommand)]
#[command(name = "add", desc = "Add a note")]
struct AddNote {
    /// The note
    text: String,
}

/// A bot that uses every host service, and keeps a count per instance.
#[derive(Default)]
struct Shop {
    orders: u32,
}

impl Bot for Shop {
    fn router() -> Router<Self> {
        Router::new()
            .command(Self::order)
            .command(Self::notes)
            .autocomplete::<Order>(|_, _, focused| {
                Ok(Response::autocomplete([(
                    focused.name.clone(),
                    format!("{}…", focused.value),
                )]))
            })
            .component("size:", |_, i, rest| {
                Ok(Response::update_message(format!("{rest} {:?}", i.values())))
            })
            .modal("address", |_, i, _| {
                Ok(Response::message(i.modal_value("street").unwrap_or("?")))
            })
            .user_command("Gift", |_, _, user| {
                Ok(Response::message(format!("gift for {user}")))
            })
    }
}

impl Shop {
    fn order(&mut self, i: &Interaction, order: Order) -> Result<Response> {
        self.orders += 1;
        if order.count < 1 {
            return Err("order at least one".into());
        }
        i.defer_ephemeral()?;
        let total = kv::incr("orders")?;
        log::info(format!("order {total}: {} x {}", order.count, order.item));
        let sent = discord::request(
            "POST",
            "/channels/9/messages",
            Some(json!({ "content": order.item }).to_string().as_bytes()),
        )?;
        let description = format!(
            "{} {} {:?} {:?} {:?} {:?} {:?} {:?} status {} (instance: {}, total: {total})",
            order.count,
            order.item,
            order.size,
            order.weight,
            order.gift,
            order.to.map(|user| user.resolved.name),
            order.channel.map(Id::get),
            order.role.map(Id::get),
            sent.status,
            self.orders,
        );
        Ok(Response::message(description).ephemeral())
    }

    fn notes(
        &mut self,
        i: &Interaction,
        Notes::Note(NoteGroup::Add(note)): Notes,
    ) -> Result<Response> {
        let key = format!("note:{}", i.user_id().ok_or("no user")?);
        kv::set(&key, note.text.as_bytes())?;
        Ok(Response::message(format!(
            "saved: {}",
            kv::list_keys("note:")?.join(",")
        )))
    }
}

#[test]
fn typed_options_arrive_in_the_model() {
    let mut bot = TestBot::<Shop>::new();
    let answer = bot
        .run(
            TestInteraction::command("order")
                .option("item", "tea")
                .option("count", 2)
                .option("size", "l")
                .option("weight", 0.5)
                .option("gift", true)
                .option("to", Id::<UserMarker>::new(5))
                .option("channel", Id::<ChannelMarker>::new(6))
                .option("role", Id::<RoleMarker>::new(7))
                .guild(1),
        )
        .unwrap();
    assert_eq!(
        answer.content(),
        Some(
            "2 tea Large Some(0.5) Some(true) Some(\"user5\") Some(6) Some(7) status 200 (instance: 1, total: 1)"
        )
    );
}

#[test]
fn records_what_the_bot_did_and_clears_them_each_run() {
    let mut bot = TestBot::<Shop>::new();
    let order = |count: i64| {
        TestInteraction::command("order")
            .option("item", "tea")
            .option("count", count)
            .option("size", "s")
    };
    bot.run(order(1)).unwrap();

    let initial = bot.initial_response().unwrap();
    assert_eq!(
        initial.kind(),
        InteractionResponseType::DeferredChannelMessageWithSource
    );
    assert!(initial.is_ephemeral());
    assert_eq!(
        bot.discord_calls(),
        [RecordedCall {
            method: "POST".into(),
            path: "/channels/9/messages".into(),
            body: Some(json!({ "content": "tea" })),
        }]
    );
    assert_eq!(
        bot.logs(),
        [LogLine {
            level: crate::log::Level::Info,
            message: "order 1: 1 x tea".into(),
        }]
    );

    // A run that fails early leaves no records of the one before.
    let err = bot.run(order(0)).map(|_| ()).unwrap_err();
    assert!(err.message().contains("order at least one"), "{err}");
    assert!(bot.initial_response().is_none());
    assert!(bot.discord_calls().is_empty());
    assert!(bot.logs().is_empty());
}

#[test]
fn kv_outlives_runs_and_restarts_and_instance_state_does_not() {
    let mut bot = TestBot::<Shop>::new();
    let order = TestInteraction::command("order")
        .option("item", "tea")
        .option("count", 1)
        .option("size", "s");
    bot.run(order.clone()).unwrap();
    bot.run(order.clone()).unwrap();
    assert_eq!(bot.bot().orders, 2);
    assert_eq!(bot.kv_get("orders"), Some(b"2".to_vec()));
    assert_eq!(bot.kv_get_json::<u64>("orders"), Some(2));

    bot.restart();
    assert_eq!(bot.bot().orders, 0);
    let answer = bot.run(order).unwrap();
    assert!(
        answer
            .content()
            .unwrap()
            .ends_with("(instance: 1, total: 3)"),
        "{answer:?}"
    );

    bot.kv_set("note:x", "seeded").unwrap();
    assert!(matches!(bot.kv_set("", "x"), Err(KvError::InvalidKey(_))));
    let saved = bot
        .run(
            TestInteraction::command("notes")
                .subcommand("note")
                .subcommand("add")
                .option("text", "milk")
                .user(42, "alice"),
        )
        .unwrap();
    assert_eq!(saved.content(), Some("saved: note:42,note:x"));
    assert_eq!(bot.kv_get("note:42"), Some(b"milk".to_vec()));
    assert_eq!(bot.kv_keys(), ["note:42", "note:x", "orders"]);
}

#[test]
fn scripted_answers_reach_the_bot() {
    let mut bot = TestBot::<Shop>::new();
    let order = || {
        TestInteraction::command("order")
            .option("item", "tea")
            .option("count", 1)
            .option("size", "s")
    };
    bot.reply_to(
        "post",
        "/channels/9/messages",
        403,
        json!({ "code": 50013 }),
    );
    let answer = bot.run(order()).unwrap();
    assert!(
        answer.content().unwrap().contains("status 403"),
        "{answer:?}"
    );

    bot.fail_request(
        "POST",
        "/channels/9/messages",
        DiscordError::RateLimited(250),
    );
    let err = bot.run(order()).unwrap_err();
    assert_eq!(err.message(), "rate limited by Discord; retry in 250 ms");
}

#[test]
fn components_modals_menus_and_autocomplete_are_routed() {
    let mut bot = TestBot::<Shop>::new();
    let picked = bot
        .run(TestInteraction::select("size:menu", ["s", "l"]))
        .unwrap();
    assert_eq!(picked.content(), Some("menu [\"s\", \"l\"]"));
    assert_eq!(picked.kind(), InteractionResponseType::UpdateMessage);

    let form = bot
        .run(TestInteraction::modal("address").field("street", "Main St"))
        .unwrap();
    assert_eq!(form.content(), Some("Main St"));

    let gift = bot.run(TestInteraction::user_command("Gift", 5)).unwrap();
    assert_eq!(gift.content(), Some("gift for 5"));

    let suggestions = bot
        .run(TestInteraction::autocomplete("order", "item", "te"))
        .unwrap();
    assert_eq!(suggestions.choices()[0].name, "item");

    let unrouted = bot.run(TestInteraction::button("gone")).unwrap();
    assert_eq!(unrouted.content(), Some("this button is no longer handled"));
}

#[test]
fn commands_are_the_routers_registration() {
    let commands = TestBot::<Shop>::commands().unwrap();
    let names: Vec<_> = commands
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["order", "notes", "Gift"]);
    assert_eq!(commands[0]["options"][2]["choices"][1]["value"], "l");

    #[derive(Default)]
    struct Silent;
    impl Bot for Silent {
        fn router() -> Router<Self> {
            Router::new()
        }
    }
    assert_eq!(TestBot::<Silent>::commands().unwrap(), Value::Null);
}

/// An event bot that answers with the gateway and cannot respond.
#[derive(Default)]
struct Watcher {
    seen: Vec<String>,
}

impl Bot for Watcher {
    fn router() -> Router<Self> {
        Router::new()
    }
}

impl EventBot for Watcher {
    fn on_event(&mut self, event: Event) -> Result<()> {
        self.seen.push(event.name().to_owned());
        if event.name() == "BOOM" {
            return Err("boom".into());
        }
        let presence =
            crate::gateway::set_presence(crate::model::gateway::presence::Status::Idle, None);
        log::info(format!("{presence:?}"));
        let members = crate::gateway::members_by_name(Id::new(1), "al", 5);
        crate::gateway::request_guild_members(&members)?;
        kv::set(&format!("seq:{}", event.sequence()), event.data())?;
        Ok(())
    }
}

#[test]
fn events_run_with_the_gateway_recorded() {
    let mut bot = TestBot::<Watcher>::new();
    bot.event(TestEvent::new("TYPING_START", json!({ "x": 1 })).sequence(4))
        .unwrap();
    assert_eq!(bot.bot().seen, ["TYPING_START"]);
    assert_eq!(
        bot.gateway_commands(),
        [
            GatewayCommand::UpdatePresence(
                json!({ "activities": [], "afk": false, "since": null, "status": "idle" })
            ),
            GatewayCommand::RequestGuildMembers(
                json!({ "guild_id": "1", "query": "al", "limit": 5 })
            ),
        ]
    );
    assert_eq!(bot.logs()[0].message, "Ok(())");
    assert_eq!(bot.kv_get("seq:4"), Some(br#"{"x":1}"#.to_vec()));

    let err = bot.event(TestEvent::new("BOOM", json!({}))).unwrap_err();
    assert_eq!(err.message(), "boom");
    assert!(bot.gateway_commands().is_empty());
}

/// A handler that tries to respond during an event gets the node's refusal.
#[derive(Default)]
struct Responder;

impl Bot for Responder {
    fn router() -> Router<Self> {
        Router::new().fallback(|_, i| {
            i.reply("first")?;
            let again = i.reply("second").unwrap_err();
            Ok(Response::message(again.to_string()))
        })
    }
}

#[test]
fn the_initial_response_is_sent_once() {
    let mut bot = TestBot::<Responder>::new();
    let answer = bot.run(TestInteraction::command("any")).unwrap();
    assert!(
        answer
            .content()
            .unwrap()
            .contains("already has its initial response"),
        "{answer:?}"
    );
    assert_eq!(bot.initial_response().unwrap().content(), Some("first"));
}

#[test]
fn host_calls_outside_a_test_bot_say_where_to_look() {
    let panic = std::panic::catch_unwind(|| crate::kv::get("x")).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert_eq!(
        message,
        "appliance-sdk: host call `kv.get` outside a node; in tests use appliance_sdk::testing"
    );
}
