//! Application commands as Discord's bulk overwrite takes them: the checks
//! Discord makes (so a bad declaration fails at deploy, naming the field,
//! before anything changes), the canonical form the node registers, the
//! comparison with what Discord has, and Discord's own error, flattened.
//!
//! The rules are those of Discord's application-commands reference
//! (`docs/interactions/application-commands`): naming, lengths, counts,
//! nesting of subcommands, and option fields by option type.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

use serde_json::{Map, Value};

/// Largest command list a bot may declare. Discord's own limits (110
/// commands of at most 4,000 characters each) stay well under it.
pub const MAX_COMMANDS_BYTES: usize = 1024 * 1024;

/// Combined characters of names, descriptions and choice values in one command.
const COMMAND_CHARS_MAX: usize = 4000;
const OPTIONS_MAX: usize = 25;
const CHOICES_MAX: usize = 25;
const STRING_LENGTH_MAX: u64 = 6000;
/// Integers Discord accepts in INTEGER and NUMBER options: ±(2^53 - 1).
const SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Discord's locales, the keys a localization dictionary may have.
pub const LOCALES: &[&str] = &[
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl",
    "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th",
    "zh-CN", "ja", "zh-TW", "ko",
];

/// `CHAT_INPUT` command and option names, as Discord documents them.
static CHAT_INPUT_NAME: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$").expect("valid regex")
});

/// Fields Discord sets itself; a declaration's copies are dropped.
const READ_ONLY: &[&str] = &["id", "application_id", "guild_id", "version"];

/// A declaration Discord would refuse: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct Invalid {
    /// Where, e.g. `commands[0].options[1].name`.
    pub path: String,
    pub message: String,
}

fn invalid(path: &str, message: impl Into<String>) -> Invalid {
    Invalid {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// A checked command list in the form the node sends to Discord.
#[derive(Debug, Clone, PartialEq)]
pub struct Commands(Vec<Value>);

impl Commands {
    /// Checks a declared list (the JSON array of a bulk overwrite) against
    /// Discord's rules and drops the fields Discord sets itself.
    pub fn parse(json: &[u8]) -> Result<Commands, Invalid> {
        if json.len() > MAX_COMMANDS_BYTES {
            return Err(invalid(
                "commands",
                format!(
                    "the list is {} bytes; the limit is {MAX_COMMANDS_BYTES}",
                    json.len()
                ),
            ));
        }
        let value: Value = serde_json::from_slice(json)
            .map_err(|e| invalid("commands", format!("not valid JSON: {e}")))?;
        let Value::Array(list) = value else {
            return Err(invalid("commands", "must be a JSON array of commands"));
        };
        let mut seen = HashSet::new();
        let mut per_type: BTreeMap<u64, usize> = BTreeMap::new();
        let mut commands = Vec::with_capacity(list.len());
        for (index, command) in list.into_iter().enumerate() {
            let path = format!("commands[{index}]");
            let mut command = command;
            let kind = check_command(&path, &mut command)?;
            let name = command["name"].as_str().unwrap_or_default().to_owned();
            if !seen.insert((kind, name.clone())) {
                return Err(invalid(
                    &format!("{path}.name"),
                    format!("{name:?} is declared twice; names are unique per command type"),
                ));
            }
            let count = per_type.entry(kind).or_default();
            *count += 1;
            let limit = match kind {
                1 => 100,
                4 => 1,
                _ => 5,
            };
            if *count > limit {
                return Err(invalid(
                    &path,
                    format!(
                        "more than {limit} commands of type {} ({}); Discord allows {limit}",
                        kind,
                        type_name(kind)
                    ),
                ));
            }
            commands.push(command);
        }
        Ok(Commands(commands))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_slice(&self) -> &[Value] {
        &self.0
    }

    /// The body of the bulk overwrite.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.0).expect("JSON values serialize")
    }

    /// How each command is shown to people: `/name` for slash commands,
    /// the bare name for context-menu ones.
    pub fn labels(&self) -> Vec<String> {
        self.0.iter().map(label).collect()
    }
}

fn type_name(kind: u64) -> &'static str {
    match kind {
        1 => "CHAT_INPUT",
        2 => "USER",
        3 => "MESSAGE",
        4 => "PRIMARY_ENTRY_POINT",
        _ => "unknown",
    }
}

/// `/name` for a slash command, `name (user command)` for the others.
pub fn label(command: &Value) -> String {
    let name = command["name"].as_str().unwrap_or("?");
    match command.get("type").and_then(Value::as_u64).unwrap_or(1) {
        1 => format!("/{name}"),
        2 => format!("{name} (user command)"),
        3 => format!("{name} (message command)"),
        _ => format!("{name} (entry point)"),
    }
}

/// Checks one command in place; returns its type.
fn check_command(path: &str, command: &mut Value) -> Result<u64, Invalid> {
    let Value::Object(fields) = command else {
        return Err(invalid(path, "must be a JSON object"));
    };
    for field in READ_ONLY {
        fields.remove(*field);
    }
    let kind = match fields.get("type") {
        None | Some(Value::Null) => 1,
        Some(value) => match value.as_u64() {
            Some(kind @ 1..=4) => kind,
            _ => {
                return Err(invalid(
                    &format!("{path}.type"),
                    format!("{value} is not a command type (1 CHAT_INPUT, 2 USER, 3 MESSAGE, 4 PRIMARY_ENTRY_POINT)"),
                ))
            }
        },
    };
    let slash = kind == 1;
    let name = required_str(fields, path, "name")?;
    check_name(&format!("{path}.name"), name, slash)?;
    check_localizations(path, fields, "name_localizations", |p, v| {
        check_name(p, v, slash)
    })?;
    match (slash, fields.get("description")) {
        (true, _) => {
            let description = required_str(fields, path, "description")?;
            check_length(&format!("{path}.description"), description, 1, 100)?;
            check_localizations(path, fields, "description_localizations", |p, v| {
                check_length(p, v, 1, 100)
            })?;
        }
        (false, None | Some(Value::Null)) => {}
        (false, Some(Value::String(text))) if text.is_empty() => {}
        (false, Some(_)) => {
            return Err(invalid(
                &format!("{path}.description"),
                format!(
                    "{} commands take no description (leave it empty)",
                    type_name(kind)
                ),
            ))
        }
    }
    match fields.get_mut("options") {
        None | Some(Value::Null) => {}
        Some(_) if !slash => {
            return Err(invalid(
                &format!("{path}.options"),
                format!("{} commands take no options", type_name(kind)),
            ))
        }
        Some(options) => check_options(&format!("{path}.options"), options, Level::Command)?,
    }
    if let Some(permissions) = fields.get("default_member_permissions") {
        let ok = match permissions {
            Value::Null => true,
            Value::String(bits) => bits.parse::<u64>().is_ok(),
            _ => false,
        };
        if !ok {
            return Err(invalid(
                &format!("{path}.default_member_permissions"),
                "must be a permission bit set as a string of digits (\"0\": admins only), or null",
            ));
        }
    }
    check_enum_list(
        path,
        fields,
        "contexts",
        &[0, 1, 2],
        "0 GUILD, 1 BOT_DM, 2 PRIVATE_CHANNEL",
    )?;
    check_enum_list(
        path,
        fields,
        "integration_types",
        &[0, 1],
        "0 GUILD_INSTALL, 1 USER_INSTALL",
    )?;
    for flag in ["nsfw", "dm_permission"] {
        if let Some(value) = fields.get(flag) {
            if !value.is_boolean() && !value.is_null() {
                return Err(invalid(&format!("{path}.{flag}"), "must be true or false"));
            }
        }
    }
    let chars = characters(command);
    if chars > COMMAND_CHARS_MAX {
        return Err(invalid(
            path,
            format!(
                "{} has {chars} characters in its names, descriptions and choices; Discord allows {COMMAND_CHARS_MAX}",
                label(command)
            ),
        ));
    }
    Ok(kind)
}

/// Where an option list sits, which decides what it may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Command,
    Group,
    Subcommand,
}

fn check_options(path: &str, options: &mut Value, level: Level) -> Result<(), Invalid> {
    let Value::Array(list) = options else {
        return Err(invalid(path, "must be an array of options"));
    };
    if list.len() > OPTIONS_MAX {
        return Err(invalid(
            path,
            format!("{} options; Discord allows {OPTIONS_MAX}", list.len()),
        ));
    }
    if level == Level::Group && list.is_empty() {
        return Err(invalid(
            path,
            "a subcommand group needs at least one subcommand",
        ));
    }
    let mut names = HashSet::new();
    let mut optional_seen = false;
    let mut nested = 0;
    for (index, option) in list.iter_mut().enumerate() {
        let path = format!("{path}[{index}]");
        let Value::Object(fields) = option else {
            return Err(invalid(&path, "must be a JSON object"));
        };
        let Some(kind @ 1..=11) = fields.get("type").and_then(Value::as_u64) else {
            return Err(invalid(
                &format!("{path}.type"),
                "must be an option type from 1 (SUB_COMMAND) to 11 (ATTACHMENT)",
            ));
        };
        let name = required_str(fields, &path, "name")?;
        check_name(&format!("{path}.name"), name, true)?;
        if !names.insert(name.to_owned()) {
            return Err(invalid(
                &format!("{path}.name"),
                format!("{name:?} is used twice; option names are unique within a list"),
            ));
        }
        check_localizations(&path, fields, "name_localizations", |p, v| {
            check_name(p, v, true)
        })?;
        let description = required_str(fields, &path, "description")?;
        check_length(&format!("{path}.description"), description, 1, 100)?;
        check_localizations(&path, fields, "description_localizations", |p, v| {
            check_length(p, v, 1, 100)
        })?;
        let is_subcommand = kind <= 2;
        match (level, kind) {
            (Level::Command, _) => {}
            (Level::Group, 1) => {}
            (Level::Group, _) => {
                return Err(invalid(
                    &format!("{path}.type"),
                    "a subcommand group holds only subcommands (type 1)",
                ))
            }
            (Level::Subcommand, 1 | 2) => {
                return Err(invalid(
                    &format!("{path}.type"),
                    "a subcommand cannot hold subcommands or groups",
                ))
            }
            (Level::Subcommand, _) => {}
        }
        if is_subcommand {
            nested += 1;
            if fields.get("required").and_then(Value::as_bool) == Some(true) {
                return Err(invalid(
                    &format!("{path}.required"),
                    "subcommands and groups cannot be required",
                ));
            }
            let inner = if kind == 1 {
                Level::Subcommand
            } else {
                Level::Group
            };
            match fields.get_mut("options") {
                None | Some(Value::Null) if inner == Level::Group => {
                    return Err(invalid(
                        &format!("{path}.options"),
                        "a subcommand group needs at least one subcommand",
                    ))
                }
                None | Some(Value::Null) => {}
                Some(options) => check_options(&format!("{path}.options"), options, inner)?,
            }
            continue;
        }
        match fields.get("required") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => optional_seen = true,
            Some(Value::Bool(true)) if optional_seen => {
                return Err(invalid(
                    &format!("{path}.required"),
                    format!("required option {name:?} comes after an optional one; Discord wants required options first"),
                ))
            }
            Some(Value::Bool(true)) => {}
            Some(_) => return Err(invalid(&format!("{path}.required"), "must be true or false")),
        }
        if fields.get("options").is_some_and(|o| !o.is_null()) {
            return Err(invalid(
                &format!("{path}.options"),
                "only subcommands and groups hold options",
            ));
        }
        check_option_fields(&path, fields, kind)?;
    }
    if nested > 0 && nested < list.len() {
        return Err(invalid(
            path,
            "subcommands or groups cannot be mixed with other options in one list",
        ));
    }
    Ok(())
}

/// The fields that depend on an option's type: choices, autocomplete,
/// channel types, value and length bounds.
fn check_option_fields(path: &str, fields: &Map<String, Value>, kind: u64) -> Result<(), Invalid> {
    let present = |key: &str| fields.get(key).is_some_and(|v| !v.is_null());
    let only = |key: &str, allowed: &[u64], which: &str| -> Result<(), Invalid> {
        if present(key) && !allowed.contains(&kind) {
            return Err(invalid(
                &format!("{path}.{key}"),
                format!("only {which} options take {key}"),
            ));
        }
        Ok(())
    };
    only("choices", &[3, 4, 10], "STRING, INTEGER and NUMBER")?;
    // twilight-interactions writes `"autocomplete": false` on every option
    // (a bot's bool or user option too), which Discord takes: only `true`
    // is for the three types.
    let autocomplete = fields.get("autocomplete").and_then(Value::as_bool) == Some(true);
    if autocomplete && ![3, 4, 10].contains(&kind) {
        return Err(invalid(
            &format!("{path}.autocomplete"),
            "only STRING, INTEGER and NUMBER options take autocomplete",
        ));
    }
    only("channel_types", &[7], "CHANNEL")?;
    only("min_value", &[4, 10], "INTEGER and NUMBER")?;
    only("max_value", &[4, 10], "INTEGER and NUMBER")?;
    only("min_length", &[3], "STRING")?;
    only("max_length", &[3], "STRING")?;

    if let Some(choices) = fields.get("choices").filter(|v| !v.is_null()) {
        let Value::Array(choices) = choices else {
            return Err(invalid(&format!("{path}.choices"), "must be an array"));
        };
        if autocomplete && !choices.is_empty() {
            return Err(invalid(
                &format!("{path}.autocomplete"),
                "an option with choices cannot also autocomplete",
            ));
        }
        if choices.len() > CHOICES_MAX {
            return Err(invalid(
                &format!("{path}.choices"),
                format!("{} choices; Discord allows {CHOICES_MAX}", choices.len()),
            ));
        }
        for (index, choice) in choices.iter().enumerate() {
            let path = format!("{path}.choices[{index}]");
            let Value::Object(choice) = choice else {
                return Err(invalid(&path, "must be a JSON object"));
            };
            let name = required_str(choice, &path, "name")?;
            check_length(&format!("{path}.name"), name, 1, 100)?;
            check_localizations(&path, choice, "name_localizations", |p, v| {
                check_length(p, v, 1, 100)
            })?;
            let value = choice.get("value").unwrap_or(&Value::Null);
            let ok = match kind {
                3 => value.as_str().is_some_and(|s| s.chars().count() <= 100),
                4 => value.as_i64().is_some_and(|v| v.abs() <= SAFE_INTEGER),
                _ => value
                    .as_f64()
                    .is_some_and(|v| v.abs() <= SAFE_INTEGER as f64),
            };
            if !ok {
                let want = match kind {
                    3 => "a string of at most 100 characters",
                    4 => "an integer within ±(2^53 - 1)",
                    _ => "a number within ±2^53",
                };
                return Err(invalid(&format!("{path}.value"), format!("must be {want}")));
            }
        }
    }
    if let Some(types) = fields.get("channel_types").filter(|v| !v.is_null()) {
        let ok = types
            .as_array()
            .is_some_and(|list| list.iter().all(|t| t.as_u64().is_some_and(|t| t <= 16)));
        if !ok {
            return Err(invalid(
                &format!("{path}.channel_types"),
                "must be an array of Discord channel types (numbers)",
            ));
        }
    }
    let bound = |key: &str| -> Result<Option<f64>, Invalid> {
        let Some(value) = fields.get(key).filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let ok = if kind == 4 {
            value.as_i64().is_some_and(|v| v.abs() <= SAFE_INTEGER)
        } else {
            value
                .as_f64()
                .is_some_and(|v| v.abs() <= SAFE_INTEGER as f64)
        };
        if !ok {
            return Err(invalid(
                &format!("{path}.{key}"),
                if kind == 4 {
                    "must be an integer within ±(2^53 - 1)"
                } else {
                    "must be a number within ±2^53"
                },
            ));
        }
        Ok(value.as_f64())
    };
    if let (Some(min), Some(max)) = (bound("min_value")?, bound("max_value")?) {
        if min > max {
            return Err(invalid(
                &format!("{path}.min_value"),
                format!("{min} is above max_value {max}"),
            ));
        }
    }
    let length = |key: &str, least: u64| -> Result<Option<u64>, Invalid> {
        let Some(value) = fields.get(key).filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        match value.as_u64() {
            Some(n) if (least..=STRING_LENGTH_MAX).contains(&n) => Ok(Some(n)),
            _ => Err(invalid(
                &format!("{path}.{key}"),
                format!("must be a whole number from {least} to {STRING_LENGTH_MAX}"),
            )),
        }
    };
    if let (Some(min), Some(max)) = (length("min_length", 0)?, length("max_length", 1)?) {
        if min > max {
            return Err(invalid(
                &format!("{path}.min_length"),
                format!("{min} is above max_length {max}"),
            ));
        }
    }
    Ok(())
}

fn required_str<'a>(
    fields: &'a Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<&'a str, Invalid> {
    match fields.get(key) {
        Some(Value::String(text)) => Ok(text),
        None | Some(Value::Null) => Err(invalid(&format!("{path}.{key}"), "is missing")),
        Some(_) => Err(invalid(&format!("{path}.{key}"), "must be a string")),
    }
}

fn check_length(path: &str, text: &str, min: usize, max: usize) -> Result<(), Invalid> {
    let chars = text.chars().count();
    if chars < min || chars > max {
        return Err(invalid(
            path,
            format!("{text:?} has {chars} characters; it must have {min} to {max}"),
        ));
    }
    Ok(())
}

/// Slash command and option names: Discord's pattern, and lowercase where
/// a letter has a lowercase form. Context-menu names only have a length.
fn check_name(path: &str, name: &str, slash: bool) -> Result<(), Invalid> {
    check_length(path, name, 1, 32)?;
    if !slash {
        return Ok(());
    }
    if !CHAT_INPUT_NAME.is_match(name) {
        return Err(invalid(
            path,
            format!("{name:?} may hold only letters, digits, '-', '_' and '\\'' (no spaces)"),
        ));
    }
    if name
        .chars()
        .any(|c| c.to_lowercase().ne(std::iter::once(c)))
    {
        return Err(invalid(
            path,
            format!("{name:?} must be lowercase (\"{}\")", name.to_lowercase()),
        ));
    }
    Ok(())
}

fn check_localizations(
    path: &str,
    fields: &Map<String, Value>,
    key: &str,
    check: impl Fn(&str, &str) -> Result<(), Invalid>,
) -> Result<(), Invalid> {
    let Some(value) = fields.get(key).filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let Value::Object(map) = value else {
        return Err(invalid(
            &format!("{path}.{key}"),
            "must be an object of locale to text",
        ));
    };
    for (locale, text) in map {
        let at = format!("{path}.{key}.{locale}");
        if !LOCALES.contains(&locale.as_str()) {
            return Err(invalid(
                &at,
                format!(
                    "{locale:?} is not one of Discord's locales ({})",
                    LOCALES.join(", ")
                ),
            ));
        }
        let Value::String(text) = text else {
            return Err(invalid(&at, "must be a string"));
        };
        check(&at, text)?;
    }
    Ok(())
}

fn check_enum_list(
    path: &str,
    fields: &Map<String, Value>,
    key: &str,
    allowed: &[u64],
    meaning: &str,
) -> Result<(), Invalid> {
    let Some(value) = fields.get(key).filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let ok = value.as_array().is_some_and(|list| {
        list.iter()
            .all(|v| v.as_u64().is_some_and(|v| allowed.contains(&v)))
    });
    if !ok {
        return Err(invalid(
            &format!("{path}.{key}"),
            format!("must be an array of {meaning}"),
        ));
    }
    Ok(())
}

/// Characters Discord counts against a command's 4,000: names,
/// descriptions and string choice values, through every level.
fn characters(value: &Value) -> usize {
    let Value::Object(fields) = value else {
        return 0;
    };
    let text = |key: &str| {
        fields
            .get(key)
            .and_then(Value::as_str)
            .map_or(0, |s| s.chars().count())
    };
    let mut total = text("name") + text("description");
    if let Some(Value::Array(choices)) = fields.get("choices") {
        for choice in choices {
            total += choice["name"].as_str().map_or(0, |s| s.chars().count());
            total += choice["value"].as_str().map_or(0, |s| s.chars().count());
        }
    }
    if let Some(Value::Array(options)) = fields.get("options") {
        total += options.iter().map(characters).sum::<usize>();
    }
    total
}

/// How a declared command differs from what Discord has registered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Difference {
    /// `/name`, or the name of a context-menu command.
    pub command: String,
    pub kind: DifferenceKind,
    /// For a changed command: the fields that differ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// Declared by the bot, not registered.
    Missing,
    /// Registered, not declared (a sync deletes it).
    Extra,
    /// Registered with other settings than declared.
    Changed,
}

/// Compares the bot's declaration with Discord's registered commands. Fields
/// Discord fills in with defaults (ids, versions, `false`, empty lists) do
/// not count as differences.
pub fn diff(declared: &[Value], registered: &[Value]) -> Vec<Difference> {
    let key = |c: &Value| {
        (
            c.get("type").and_then(Value::as_u64).unwrap_or(1),
            c["name"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let mut differences = Vec::new();
    for command in declared {
        let found = registered.iter().find(|r| key(r) == key(command));
        match found {
            None => differences.push(Difference {
                command: label(command),
                kind: DifferenceKind::Missing,
                fields: Vec::new(),
            }),
            Some(registered) => {
                let fields = changed_fields(&canonical(command), &canonical(registered), "");
                if !fields.is_empty() {
                    differences.push(Difference {
                        command: label(command),
                        kind: DifferenceKind::Changed,
                        fields,
                    });
                }
            }
        }
    }
    for command in registered {
        if !declared.iter().any(|d| key(d) == key(command)) {
            differences.push(Difference {
                command: label(command),
                kind: DifferenceKind::Extra,
                fields: Vec::new(),
            });
        }
    }
    differences
}

/// Fields Discord fills in for a command that did not set them; a value
/// there that the declaration leaves out is Discord's default, not a change.
const SERVER_DEFAULTED: &[&str] = &["contexts", "integration_types", "dm_permission"];

/// A command without read-only fields and without fields at their default
/// (`type` 1, `false`, `null`, empty lists and dictionaries).
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                if READ_ONLY.contains(&key.as_str()) {
                    continue;
                }
                let value = canonical(value);
                let default = match &value {
                    Value::Null | Value::Bool(false) => true,
                    Value::Array(a) => a.is_empty(),
                    Value::Object(o) => o.is_empty(),
                    // Type 1 is CHAT_INPUT, the default of a command;
                    // both sides drop it alike, so options keep their meaning.
                    Value::Number(n) => key == "type" && n.as_u64() == Some(1),
                    _ => false,
                };
                if !default {
                    out.insert(key.clone(), value);
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn changed_fields(declared: &Value, registered: &Value, prefix: &str) -> Vec<String> {
    let (Value::Object(d), Value::Object(r)) = (declared, registered) else {
        return if declared == registered {
            Vec::new()
        } else {
            vec![prefix.trim_start_matches('.').to_owned()]
        };
    };
    let mut keys: Vec<&String> = d.keys().chain(r.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|key| {
            !(prefix.is_empty()
                && SERVER_DEFAULTED.contains(&key.as_str())
                && !d.contains_key(*key))
        })
        .filter(|key| d.get(*key) != r.get(*key))
        .map(|key| format!("{prefix}.{key}").trim_start_matches('.').to_owned())
        .collect()
}

/// Discord's refusal of a request, with each error at its field path:
/// `{"code":50035,"errors":{"0":{"name":{"_errors":[{"message":"..."}]}}}}`
/// becomes `Invalid Form Body: commands[0].name: ...`.
pub fn discord_error(status: u16, body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text: String = text.trim().chars().take(300).collect();
        return format!("Discord answered {status}: {text}");
    };
    let message = value["message"].as_str().unwrap_or("no message");
    let mut found = Vec::new();
    if let Some(errors) = value.get("errors") {
        collect_errors(errors, "commands", &mut found);
    }
    if found.is_empty() {
        format!("Discord answered {status}: {message}")
    } else {
        format!("Discord answered {status}: {message}: {}", found.join("; "))
    }
}

fn collect_errors(value: &Value, path: &str, found: &mut Vec<String>) {
    let Value::Object(fields) = value else {
        return;
    };
    for (key, value) in fields {
        if key == "_errors" {
            for error in value.as_array().into_iter().flatten() {
                let message = error["message"].as_str().unwrap_or("invalid");
                found.push(format!("{path}: {message}"));
            }
        } else if key.bytes().all(|b| b.is_ascii_digit()) {
            collect_errors(value, &format!("{path}[{key}]"), found);
        } else {
            collect_errors(value, &format!("{path}.{key}"), found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Commands, Invalid> {
        Commands::parse(&serde_json::to_vec(&value).unwrap())
    }

    fn refused(value: Value) -> Invalid {
        parse(value).expect_err("the declaration should be refused")
    }

    fn remind() -> Value {
        json!({
            "name": "remind", "description": "Remind me later", "type": 1, "version": "1",
            "options": [
                {"type": 4, "name": "seconds", "description": "How long", "required": true, "min_value": 1, "max_value": 900},
                {"type": 3, "name": "text", "description": "What", "required": false, "max_length": 200},
            ]
        })
    }

    #[test]
    fn accepts_a_typical_list_and_drops_read_only_fields() {
        let commands = parse(json!([
            remind(),
            {"name": "High Five", "type": 2, "description": ""},
            {"name": "config", "description": "Settings", "options": [
                {"type": 2, "name": "get", "description": "Read", "options": [
                    {"type": 1, "name": "one", "description": "One setting", "options": [
                        {"type": 3, "name": "key", "description": "Which", "required": true,
                         "choices": [{"name": "Colour", "value": "colour"}]}]}]},
                {"type": 1, "name": "reset", "description": "Reset all"}
            ], "name_localizations": {"fr": "réglages"}, "default_member_permissions": "32"}
        ]))
        .unwrap();
        assert_eq!(commands.len(), 3);
        assert!(commands.as_slice()[0].get("version").is_none());
        assert_eq!(
            commands.labels(),
            ["/remind", "High Five (user command)", "/config"]
        );
    }

    #[test]
    fn autocomplete_false_is_taken_on_any_option_type() {
        // What twilight-interactions' derive writes for `shout: Option<bool>`.
        parse(json!([{"name": "greet", "description": "x", "options": [
            {"type": 5, "name": "shout", "description": "x", "required": false, "autocomplete": false}]}]))
        .unwrap();
        let refused = refused(json!([{"name": "greet", "description": "x", "options": [
            {"type": 5, "name": "shout", "description": "x", "autocomplete": true}]}]));
        assert_eq!(refused.path, "commands[0].options[0].autocomplete");
    }

    #[test]
    fn names_the_field_that_breaks_a_rule() {
        let cases = [
            (
                json!([{"name": "Remind", "description": "x"}]),
                "commands[0].name",
                "lowercase",
            ),
            (
                json!([{"name": "two words", "description": "x"}]),
                "commands[0].name",
                "no spaces",
            ),
            (
                json!([{"name": "a".repeat(33), "description": "x"}]),
                "commands[0].name",
                "1 to 32",
            ),
            (json!([{"name": "a"}]), "commands[0].description", "missing"),
            (
                json!([{"name": "a", "description": "d".repeat(101)}]),
                "commands[0].description",
                "1 to 100",
            ),
            (
                json!([{"name": "Hi", "type": 2, "description": "no"}]),
                "commands[0].description",
                "no description",
            ),
            (
                json!([{"name": "a", "description": "x", "options": [
                {"type": 3, "name": "x", "description": "x"},
                {"type": 3, "name": "y", "description": "y", "required": true}]}]),
                "commands[0].options[1].required",
                "required options first",
            ),
            (
                json!([{"name": "a", "description": "x", "options": [
                {"type": 3, "name": "x", "description": "x"},
                {"type": 3, "name": "x", "description": "y"}]}]),
                "commands[0].options[1].name",
                "used twice",
            ),
            (
                json!([{"name": "a", "description": "x", "options": [
                {"type": 1, "name": "s", "description": "s"},
                {"type": 3, "name": "x", "description": "x"}]}]),
                "commands[0].options",
                "mixed",
            ),
            (
                json!([{"name": "a", "description": "x", "options": [
                {"type": 1, "name": "s", "description": "s", "options": [
                    {"type": 1, "name": "t", "description": "t"}]}]}]),
                "commands[0].options[0].options[0].type",
                "cannot hold subcommands",
            ),
            (
                json!([{"name": "a", "description": "x", "options": [
                {"type": 4, "name": "n", "description": "n", "choices": [{"name": "one", "value": "1"}]}]}]),
                "commands[0].options[0].choices[0].value",
                "integer",
            ),
            (
                json!([{"name": "a", "description": "x", "options": [
                {"type": 3, "name": "n", "description": "n", "autocomplete": true, "choices": [{"name": "one", "value": "1"}]}]}]),
                "commands[0].options[0].autocomplete",
                "cannot also autocomplete",
            ),
            (
                json!([{"name": "a", "description": "x", "options": [
                {"type": 3, "name": "n", "description": "n", "min_value": 1}]}]),
                "commands[0].options[0].min_value",
                "INTEGER and NUMBER",
            ),
            (
                json!([{"name": "a", "description": "x", "options": [
                {"type": 3, "name": "n", "description": "n", "max_length": 6001}]}]),
                "commands[0].options[0].max_length",
                "1 to 6000",
            ),
            (
                json!([{"name": "a", "description": "x", "name_localizations": {"xx": "a"}}]),
                "commands[0].name_localizations.xx",
                "locales",
            ),
            (
                json!([{"name": "a", "description": "x"}, {"name": "a", "description": "y"}]),
                "commands[1].name",
                "declared twice",
            ),
            (
                json!([{"name": "a", "description": "x", "default_member_permissions": 8}]),
                "commands[0].default_member_permissions",
                "string of digits",
            ),
            (json!({"name": "a"}), "commands", "array"),
        ];
        for (declaration, path, words) in cases {
            let error = refused(declaration.clone());
            assert_eq!(error.path, path, "{declaration}: {error}");
            assert!(error.message.contains(words), "{declaration}: {error}");
        }
    }

    #[test]
    fn counts_commands_per_type_and_characters_per_command() {
        let users: Vec<Value> = (0..6)
            .map(|i| json!({"name": format!("User {i}"), "type": 2}))
            .collect();
        let error = refused(Value::Array(users));
        assert_eq!(error.path, "commands[5]");
        let slash: Vec<Value> = (0..101)
            .map(|i| json!({"name": format!("c{i}"), "description": "x"}))
            .collect();
        assert_eq!(refused(Value::Array(slash)).path, "commands[100]");
        let long_choices: Vec<Value> = (0..25)
            .map(|i| json!({"name": format!("{i:0>100}"), "value": format!("{i:0>100}")}))
            .collect();
        let error = refused(json!([{"name": "a", "description": "x", "options": [
            {"type": 3, "name": "n", "description": "n", "choices": long_choices}]}]));
        assert!(error.message.contains("4000"), "{error}");
    }

    #[test]
    fn lowercase_rule_allows_uncased_letters() {
        parse(json!([{"name": "日本語", "description": "x"}, {"name": "नमस्ते", "description": "x"}, {"name": "ça_va", "description": "x"}])).unwrap();
    }

    #[test]
    fn diff_ignores_what_discord_fills_in() {
        let declared = parse(json!([remind(), {"name": "ping", "description": "Pong"}])).unwrap();
        let mut registered: Vec<Value> = declared.as_slice().to_vec();
        for (index, command) in registered.iter_mut().enumerate() {
            let fields = command.as_object_mut().unwrap();
            fields.insert("id".into(), json!(format!("{}", 100 + index)));
            fields.insert("application_id".into(), json!("7"));
            fields.insert("version".into(), json!("9"));
            fields.insert("nsfw".into(), json!(false));
            fields.insert("contexts".into(), json!([0, 1, 2]));
            fields.insert("integration_types".into(), json!([0]));
            fields.insert("default_member_permissions".into(), Value::Null);
            fields.insert("type".into(), json!(1));
        }
        assert_eq!(diff(declared.as_slice(), &registered), []);

        registered[0]["options"][0]["max_value"] = json!(60);
        registered.remove(1);
        registered.push(json!({"id": "5", "name": "old", "description": "gone", "type": 1}));
        let differences = diff(declared.as_slice(), &registered);
        assert_eq!(
            differences,
            [
                Difference {
                    command: "/remind".into(),
                    kind: DifferenceKind::Changed,
                    fields: vec!["options".into()]
                },
                Difference {
                    command: "/ping".into(),
                    kind: DifferenceKind::Missing,
                    fields: vec![]
                },
                Difference {
                    command: "/old".into(),
                    kind: DifferenceKind::Extra,
                    fields: vec![]
                },
            ]
        );
    }

    #[test]
    fn flattens_discords_form_errors() {
        let body = br#"{"code":50035,"errors":{"0":{"options":{"1":{"name":{"_errors":[{"code":"APPLICATION_COMMAND_INVALID_NAME","message":"Command name is invalid"}]}}}}},"message":"Invalid Form Body"}"#;
        assert_eq!(
            discord_error(400, body),
            "Discord answered 400: Invalid Form Body: commands[0].options[1].name: Command name is invalid"
        );
        assert_eq!(
            discord_error(502, b"bad gateway"),
            "Discord answered 502: bad gateway"
        );
    }
}
