use serde_json::{json, Value};
use twilight_interactions::command::{CommandModel, CommandOption, CreateCommand, CreateOption};
use twilight_model::application::interaction::InteractionContextType;
use twilight_model::guild::Permissions;

use super::*;

#[derive(CommandOption, CreateOption, Debug, PartialEq)]
enum Size {
    #[option(name = "small", value = "s")]
    Small,
    #[option(name = "large", value = "l")]
    Large,
}

fn admin() -> Permissions {
    Permissions::ADMINISTRATOR
}

/// A slash command with a choice, limits, permissions and contexts.
#[derive(CommandModel, CreateCommand, Debug, PartialEq)]
#[command(
    name = "order",
    desc = "Order a coffee",
    default_permissions = "admin",
    contexts = "guild"
)]
struct Order {
    /// How big
    size: Size,
    /// How many
    #[command(min_value = 1, max_value = 5)]
    count: Option<i64>,
}

/// A command with subcommands.
#[derive(CommandModel, CreateCommand, Debug, PartialEq)]
#[command(name = "todo", desc = "Your list")]
enum Todo {
    #[command(name = "add")]
    Add(TodoAdd),
    #[command(name = "clear")]
    Clear(TodoClear),
}

#[derive(CommandModel, CreateCommand, Debug, PartialEq)]
#[command(name = "add", desc = "Add an item")]
struct TodoAdd {
    /// The item
    #[command(autocomplete = true)]
    item: String,
}

#[derive(CommandModel, CreateCommand, Debug, PartialEq)]
#[command(name = "clear", desc = "Clear the list")]
struct TodoClear;

/// Records what each handler got.
#[derive(Default)]
struct Bot {
    seen: Vec<String>,
}

impl Bot {
    fn order(&mut self, _: &Interaction, order: Order) -> Result<Response> {
        self.seen
            .push(format!("order {:?} {:?}", order.size, order.count));
        Ok(Response::message("ordered"))
    }

    fn todo(&mut self, _: &Interaction, todo: Todo) -> Result<Response> {
        self.seen.push(format!("todo {todo:?}"));
        Ok(Response::message("noted"))
    }

    fn complete(&mut self, _: &Interaction, focused: Focused) -> Result<Response> {
        self.seen
            .push(format!("complete {}={}", focused.name, focused.value));
        Ok(Response::autocomplete([("milk", "milk")]))
    }

    fn wave(&mut self, _: &Interaction, user: Id<UserMarker>) -> Result<Response> {
        self.seen.push(format!("wave {user}"));
        Ok(Response::message("waved"))
    }

    fn quote(&mut self, _: &Interaction, message: Id<MessageMarker>) -> Result<Response> {
        self.seen.push(format!("quote {message}"));
        Ok(Response::message("quoted"))
    }

    fn component(&mut self, _: &Interaction, rest: &str) -> Result<Response> {
        self.seen.push(format!("component {rest:?}"));
        Ok(Response::update_message("pressed"))
    }

    fn vote(&mut self, i: &Interaction, rest: &str) -> Result<Response> {
        self.seen.push(format!("vote {rest:?} {:?}", i.values()));
        Ok(Response::update_message("voted"))
    }

    fn feedback(&mut self, i: &Interaction, rest: &str) -> Result<Response> {
        let text = i.modal_value("text").unwrap_or_default();
        self.seen.push(format!("feedback {rest:?} {text}"));
        Ok(Response::message("thanks"))
    }
}

fn router() -> Router<Bot> {
    Router::new()
        .command(Bot::order)
        .command(Bot::todo)
        .autocomplete::<Todo>(Bot::complete)
        .user_command("Wave", Bot::wave)
        .message_command(
            ContextMenu::new("Quote")
                .contexts([InteractionContextType::Guild])
                .default_permissions(Permissions::SEND_MESSAGES)
                .name_localizations([("fr", "Citer")]),
            Bot::quote,
        )
        .component("vote:", Bot::vote)
        .component("vote:again:", Bot::component)
        .modal("feedback", Bot::feedback)
}

/// Dispatches `body` (an interaction without its common fields) and
/// returns the answer's JSON and what the bot recorded.
fn run(router: &Router<Bot>, body: Value) -> (Result<Value>, Vec<String>) {
    let mut full = json!({"id": "1", "application_id": "2", "token": "t",
                          "user": {"id": "42", "username": "alice"}});
    full.as_object_mut()
        .unwrap()
        .extend(body.as_object().unwrap().clone());
    let interaction = Interaction::from_json(full.to_string().as_bytes()).unwrap();
    let mut bot = Bot::default();
    let answer = router
        .dispatch(&mut bot, &interaction)
        .map(|response| serde_json::from_slice(&response.to_json().unwrap()).unwrap());
    (answer, bot.seen)
}

fn command(name: &str, options: Value) -> Value {
    json!({"type": 2, "data": {"id": "9", "name": name, "type": 1, "options": options}})
}

#[test]
fn slash_commands_get_their_typed_model() {
    let (answer, seen) = run(
        &router(),
        command(
            "order",
            json!([{"name": "size", "type": 3, "value": "l"}, {"name": "count", "type": 4, "value": 2}]),
        ),
    );
    assert_eq!(answer.unwrap()["data"]["content"], "ordered");
    assert_eq!(seen, ["order Large Some(2)"]);

    let (_, seen) = run(
        &router(),
        command(
            "todo",
            json!([{"name": "add", "type": 1, "options": [{"name": "item", "type": 3, "value": "milk"}]}]),
        ),
    );
    assert_eq!(seen, [r#"todo Add(TodoAdd { item: "milk" })"#]);
}

#[test]
fn options_that_do_not_fit_the_model_are_an_error_not_a_call() {
    let (answer, seen) = run(
        &router(),
        command(
            "order",
            json!([{"name": "size", "type": 3, "value": "huge"}]),
        ),
    );
    let error = answer.unwrap_err();
    assert!(
        error
            .message()
            .starts_with("could not read the options of /order: "),
        "{error}"
    );
    assert!(seen.is_empty());
}

#[test]
fn autocomplete_gets_the_focused_option() {
    let (answer, seen) = run(
        &router(),
        json!({"type": 4, "data": {"id": "9", "name": "todo", "type": 1, "options": [
            {"name": "add", "type": 1, "options": [{"name": "item", "type": 3, "value": "mi", "focused": true}]}
        ]}}),
    );
    assert_eq!(seen, ["complete item=mi"]);
    assert_eq!(answer.unwrap()["data"]["choices"][0]["value"], "milk");
}

#[test]
fn context_menu_commands_get_their_target_by_kind() {
    let (_, seen) = run(
        &router(),
        json!({"type": 2, "data": {"id": "9", "name": "Wave", "type": 2, "target_id": "77"}}),
    );
    assert_eq!(seen, ["wave 77"]);
    let (_, seen) = run(
        &router(),
        json!({"type": 2, "data": {"id": "9", "name": "Quote", "type": 3, "target_id": "88"}}),
    );
    assert_eq!(seen, ["quote 88"]);
    // A slash command called Wave is another command: not routed.
    let (answer, seen) = run(&router(), command("Wave", json!([])));
    assert_eq!(answer.unwrap()["data"]["content"], "unknown command");
    assert!(seen.is_empty());
}

#[test]
fn components_go_to_the_longest_prefix_with_the_rest_of_the_id() {
    let press = |custom_id: &str| {
        run(
            &router(),
            json!({"type": 3, "data": {"custom_id": custom_id, "component_type": 3, "values": ["a"]}}),
        )
        .1
    };
    assert_eq!(press("vote:yes"), [r#"vote "yes" ["a"]"#]);
    assert_eq!(press("vote:again:3"), [r#"component "3""#]);
    assert_eq!(press("vote:"), [r#"vote "" ["a"]"#]);
    assert!(press("vot").is_empty());
}

#[test]
fn modals_go_by_prefix_too() {
    let (answer, seen) = run(
        &router(),
        json!({"type": 5, "data": {"custom_id": "feedback:7", "components": [
            {"type": 18, "component": {"type": 4, "custom_id": "text", "value": "great"}}
        ]}}),
    );
    assert_eq!(answer.unwrap()["data"]["content"], "thanks");
    assert_eq!(seen, [r#"feedback ":7" great"#]);
}

#[test]
fn the_default_fallback_answers_each_kind_ephemerally() {
    let empty = Router::<Bot>::new();
    let answer = |body| run(&empty, body).0.unwrap();
    assert_eq!(
        answer(command("nope", json!([]))),
        json!({"type": 4, "data": {"content": "unknown command", "flags": 64}})
    );
    assert_eq!(
        answer(json!({"type": 3, "data": {"custom_id": "old"}})),
        json!({"type": 4, "data": {"content": "this button is no longer handled", "flags": 64}})
    );
    assert_eq!(
        answer(json!({"type": 5, "data": {"custom_id": "old", "components": []}})),
        json!({"type": 4, "data": {"content": "this form is no longer handled", "flags": 64}})
    );
    assert_eq!(
        answer(json!({"type": 4, "data": {"id": "9", "name": "x", "options": []}})),
        json!({"type": 8, "data": {"choices": []}})
    );
    assert_eq!(answer(json!({"type": 1})), json!({"type": 1}));
}

#[test]
fn a_fallback_takes_everything_unrouted_but_pings() {
    let router = router().fallback(|bot: &mut Bot, i: &Interaction| {
        bot.seen.push(format!("fallback {:?}", i.kind()));
        Err(Error::new("nothing here"))
    });
    let (answer, seen) = run(&router, command("nope", json!([])));
    assert_eq!(answer.unwrap_err().message(), "nothing here");
    assert_eq!(seen, ["fallback ApplicationCommand"]);
    let (_, seen) = run(&router, json!({"type": 3, "data": {"custom_id": "old"}}));
    assert_eq!(seen, ["fallback MessageComponent"]);
    let (answer, seen) = run(&router, json!({"type": 1}));
    assert_eq!(answer.unwrap(), json!({"type": 1}));
    assert!(seen.is_empty());
}

#[test]
fn commands_json_is_the_bulk_overwrite_of_the_routed_commands() {
    let json = router().commands_json().unwrap().unwrap();
    let list: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        list,
        json!([
            {
                "name": "order",
                "description": "Order a coffee",
                "type": 1,
                "default_member_permissions": "8",
                "contexts": [0],
                "options": [
                    {"type": 3, "name": "size", "description": "How big", "required": true,
                     "autocomplete": false,
                     "choices": [{"name": "small", "value": "s"}, {"name": "large", "value": "l"}]},
                    {"type": 4, "name": "count", "description": "How many", "required": false,
                     "autocomplete": false, "min_value": 1, "max_value": 5}
                ]
            },
            {
                "name": "todo",
                "description": "Your list",
                "type": 1,
                "default_member_permissions": null,
                "options": [
                    {"type": 1, "name": "add", "description": "Add an item", "autocomplete": false,
                     "options": [
                        {"type": 3, "name": "item", "description": "The item", "required": true,
                         "autocomplete": true}
                    ]},
                    {"type": 1, "name": "clear", "description": "Clear the list",
                     "autocomplete": false, "options": []}
                ]
            },
            {"name": "Wave", "description": "", "type": 2, "default_member_permissions": null},
            {
                "name": "Quote",
                "description": "",
                "type": 3,
                "default_member_permissions": "2048",
                "contexts": [0],
                "name_localizations": {"fr": "Citer"}
            }
        ])
    );
}

#[test]
fn no_routed_command_means_no_registration() {
    let router = Router::<Bot>::new()
        .component("x", Bot::component)
        .autocomplete::<Order>(|_, _, _| Ok(Response::autocomplete_choices([])))
        .fallback(|_, _| Ok(Response::message("hi")));
    assert_eq!(router.commands_json(), Ok(None));
}

#[test]
fn a_command_routed_twice_is_refused() {
    let error = router().command(Bot::order).commands_json().unwrap_err();
    assert_eq!(
        error,
        r#"the slash command "order" is routed twice; give each command one route"#
    );
    // A user command and a slash command may share a name.
    let router = Router::<Bot>::new()
        .user_command("order", Bot::wave)
        .command(Bot::order);
    assert!(router.commands_json().unwrap().is_some());
}
