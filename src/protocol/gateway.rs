//! Discord's gateway, as pure code: intents (what an operator names at
//! deploy), the frame head the host reads of each dispatch, and the checks
//! on commands a guest asks the host to send.
//! See: https://discord.com/developers/docs/events/gateway

use serde::Deserialize;
use serde_json::value::RawValue;

/// Every intent Discord defines: name as Discord spells it, bit, privileged.
/// Privileged intents must be switched on in the Developer Portal, or
/// Discord closes the session with 4014.
pub const INTENTS: &[(&str, u64, bool)] = &[
    ("GUILDS", 1 << 0, false),
    ("GUILD_MEMBERS", 1 << 1, true),
    ("GUILD_MODERATION", 1 << 2, false),
    ("GUILD_EXPRESSIONS", 1 << 3, false),
    ("GUILD_INTEGRATIONS", 1 << 4, false),
    ("GUILD_WEBHOOKS", 1 << 5, false),
    ("GUILD_INVITES", 1 << 6, false),
    ("GUILD_VOICE_STATES", 1 << 7, false),
    ("GUILD_PRESENCES", 1 << 8, true),
    ("GUILD_MESSAGES", 1 << 9, false),
    ("GUILD_MESSAGE_REACTIONS", 1 << 10, false),
    ("GUILD_MESSAGE_TYPING", 1 << 11, false),
    ("DIRECT_MESSAGES", 1 << 12, false),
    ("DIRECT_MESSAGE_REACTIONS", 1 << 13, false),
    ("DIRECT_MESSAGE_TYPING", 1 << 14, false),
    ("MESSAGE_CONTENT", 1 << 15, true),
    ("GUILD_SCHEDULED_EVENTS", 1 << 16, false),
    ("AUTO_MODERATION_CONFIGURATION", 1 << 20, false),
    ("AUTO_MODERATION_EXECUTION", 1 << 21, false),
    ("GUILD_MESSAGE_POLLS", 1 << 24, false),
    ("DIRECT_MESSAGE_POLLS", 1 << 25, false),
];

/// Older names Discord still documents for renamed intents.
const ALIASES: &[(&str, &str)] = &[
    ("GUILD_BANS", "GUILD_MODERATION"),
    ("GUILD_EMOJIS_AND_STICKERS", "GUILD_EXPRESSIONS"),
];

fn known_bits() -> u64 {
    INTENTS.iter().fold(0, |all, (_, bit, _)| all | bit)
}

/// Reads intents as an operator writes them: names separated by commas
/// (`GUILDS,GUILD_MESSAGES`, any case) or one number (`33281`).
pub fn parse_intents(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("no intents given: name at least one, e.g. GUILDS,GUILD_MESSAGES".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let bits: u64 = text
            .parse()
            .map_err(|_| format!("intents {text} is not a number Discord knows"))?;
        let unknown = bits & !known_bits();
        if unknown != 0 {
            return Err(format!(
                "intents {bits} has bits Discord does not define ({unknown:#x})"
            ));
        }
        return Ok(bits);
    }
    let mut bits = 0;
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let upper = name.to_ascii_uppercase();
        let canonical = ALIASES
            .iter()
            .find(|(alias, _)| *alias == upper)
            .map_or(upper.as_str(), |(_, to)| to);
        let (_, bit, _) = INTENTS
            .iter()
            .find(|(known, _, _)| *known == canonical)
            .ok_or_else(|| {
                format!(
                    "unknown intent {name:?}; Discord's intents are {}",
                    all_names()
                )
            })?;
        bits |= bit;
    }
    Ok(bits)
}

fn all_names() -> String {
    INTENTS
        .iter()
        .map(|(name, _, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The names of the intents in `bits`, comma-separated, in bit order.
pub fn intent_names(bits: u64) -> String {
    INTENTS
        .iter()
        .filter(|(_, bit, _)| bits & bit != 0)
        .map(|(name, _, _)| *name)
        .collect::<Vec<_>>()
        .join(",")
}

/// The privileged intents among `bits`.
pub fn privileged(bits: u64) -> Vec<&'static str> {
    INTENTS
        .iter()
        .filter(|(_, bit, privileged)| *privileged && bits & bit != 0)
        .map(|(name, _, _)| *name)
        .collect()
}

/// A gateway message as the host reads it: the opcode, the sequence and
/// event name of a dispatch, and its payload left unparsed.
#[derive(Debug, Deserialize)]
pub struct Frame<'a> {
    pub op: u8,
    #[serde(default)]
    pub s: Option<u64>,
    #[serde(default, borrow)]
    pub t: Option<&'a str>,
    #[serde(default, borrow)]
    pub d: Option<&'a RawValue>,
}

pub mod op {
    pub const DISPATCH: u8 = 0;
    pub const PRESENCE_UPDATE: u8 = 3;
    pub const REQUEST_GUILD_MEMBERS: u8 = 8;
}

impl<'a> Frame<'a> {
    pub fn parse(text: &'a str) -> Result<Frame<'a>, String> {
        serde_json::from_str(text).map_err(|e| format!("not a gateway message: {e}"))
    }
}

/// Where a dispatch belongs, for ordering: events of one channel (or, without
/// one, of one guild) are handled in order.
#[derive(Debug, Default, Deserialize)]
pub struct Place<'a> {
    #[serde(default, borrow)]
    pub channel_id: Option<&'a str>,
    #[serde(default, borrow)]
    pub guild_id: Option<&'a str>,
}

impl<'a> Place<'a> {
    /// The channel or guild of a dispatch's `d`; empty for events that have
    /// neither (or whose `d` is not an object).
    pub fn of(data: &'a str) -> Place<'a> {
        serde_json::from_str(data).unwrap_or_default()
    }

    /// The key events are ordered by.
    pub fn key(&self) -> &'a str {
        self.channel_id.or(self.guild_id).unwrap_or("")
    }
}

/// Events the host drops first when a bot's queue fills: frequent, and
/// stale within seconds.
pub fn is_ephemeral(name: &str) -> bool {
    matches!(
        name,
        "TYPING_START" | "PRESENCE_UPDATE" | "VOICE_STATE_UPDATE"
    )
}

/// Discord's limit on a gateway command's size, in bytes.
pub const MAX_COMMAND_BYTES: usize = 4096;

/// A command a guest asked to send, checked and framed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub op: u8,
    /// The whole frame, `{"op":N,"d":...}`.
    pub json: String,
    /// For op 8: the guild, which picks the shard.
    pub guild_id: Option<u64>,
    /// For op 8: asks for every member (`query` "" and `limit` 0), which
    /// Discord allows once per guild per 30 s.
    pub all_members: bool,
}

/// Checks a presence update's `d` and frames it (op 3).
pub fn presence_update(data: &[u8]) -> Result<Command, String> {
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Presence {
        since: Option<u64>,
        activities: Vec<serde_json::Value>,
        status: String,
        afk: bool,
    }
    let presence: Presence = serde_json::from_slice(data).map_err(|e| {
        format!("a presence is {{\"since\",\"activities\",\"status\",\"afk\"}}: {e}")
    })?;
    if !matches!(
        presence.status.as_str(),
        "online" | "dnd" | "idle" | "invisible" | "offline"
    ) {
        return Err(format!(
            "status {:?} is not one of online, dnd, idle, invisible, offline",
            presence.status
        ));
    }
    frame(op::PRESENCE_UPDATE, data, None, false)
}

/// Checks a guild members request's `d` and frames it (op 8).
pub fn request_guild_members(data: &[u8]) -> Result<Command, String> {
    #[derive(Deserialize)]
    struct Request {
        guild_id: String,
        #[serde(default)]
        query: Option<String>,
        #[serde(default)]
        limit: Option<u64>,
        #[serde(default)]
        user_ids: Option<serde_json::Value>,
        #[serde(default)]
        nonce: Option<String>,
    }
    let request: Request = serde_json::from_slice(data)
        .map_err(|e| format!("a guild members request needs \"guild_id\": {e}"))?;
    let guild_id: u64 = request
        .guild_id
        .parse()
        .map_err(|_| format!("guild_id {:?} is not a snowflake", request.guild_id))?;
    if request.query.is_none() && request.user_ids.is_none() {
        return Err("a guild members request needs \"query\" or \"user_ids\"".into());
    }
    if request.nonce.as_ref().is_some_and(|n| n.len() > 32) {
        return Err("nonce is longer than Discord's 32 bytes".into());
    }
    let all_members = request.user_ids.is_none()
        && request.query.as_deref() == Some("")
        && request.limit.unwrap_or(0) == 0;
    frame(op::REQUEST_GUILD_MEMBERS, data, Some(guild_id), all_members)
}

fn frame(op: u8, data: &[u8], guild_id: Option<u64>, all_members: bool) -> Result<Command, String> {
    let data = std::str::from_utf8(data).map_err(|_| "the command is not UTF-8".to_owned())?;
    let json = format!(r#"{{"op":{op},"d":{}}}"#, data.trim());
    if json.len() > MAX_COMMAND_BYTES {
        return Err(format!(
            "the command is {} bytes; Discord's limit is {MAX_COMMAND_BYTES}",
            json.len()
        ));
    }
    Ok(Command {
        op,
        json,
        guild_id,
        all_members,
    })
}

/// The shard a guild's events come on: `(guild_id >> 22) % shards`.
pub fn shard_of(guild_id: u64, shards: u32) -> u32 {
    ((guild_id >> 22) % u64::from(shards.max(1))) as u32
}

/// What a fatal close code means, for the bot's owner.
pub fn fatal_reason(code: u16) -> Option<&'static str> {
    Some(match code {
        4004 => "Discord refused the bot token (4004 authentication failed): deploy again with a valid token (--token-env or --token-file)",
        4010 => "Discord refused the shard (4010 invalid shard): deploy again without --shards or with a smaller count",
        4011 => "Discord requires more shards (4011 sharding required): deploy again without --shards to use Discord's recommended count, or with a larger --shards",
        4012 => "Discord refused the gateway version (4012 invalid API version): upgrade appliance",
        4013 => "Discord refused the intents (4013 invalid intents): deploy again with valid --intents",
        4014 => "Discord refused a privileged intent (4014 disallowed intents): enable it for the bot in the Developer Portal (Bot → Privileged Gateway Intents), or deploy again without it",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_are_read_by_name_or_number_and_unknown_ones_refused() {
        assert_eq!(parse_intents("GUILDS,GUILD_MESSAGES").unwrap(), 1 | 1 << 9);
        assert_eq!(
            parse_intents(" guilds , message_content ").unwrap(),
            1 | 1 << 15
        );
        assert_eq!(parse_intents("GUILD_BANS").unwrap(), 1 << 2);
        assert_eq!(parse_intents("513").unwrap(), 513);
        assert!(parse_intents("GUILDS,NOPE")
            .unwrap_err()
            .contains("\"NOPE\""));
        assert!(parse_intents(&(1u64 << 40).to_string()).is_err());
        assert!(parse_intents("").is_err());
        assert_eq!(
            privileged(parse_intents("GUILD_MEMBERS,GUILDS,MESSAGE_CONTENT").unwrap()),
            ["GUILD_MEMBERS", "MESSAGE_CONTENT"]
        );
        assert_eq!(intent_names(513), "GUILDS,GUILD_MESSAGES");
    }

    #[test]
    fn frames_and_places_are_read_without_parsing_the_payload() {
        let text = r#"{"t":"MESSAGE_CREATE","s":42,"op":0,"d":{"id":"1","channel_id":"9","guild_id":"8","content":"hi"}}"#;
        let frame = Frame::parse(text).unwrap();
        assert_eq!(
            (frame.op, frame.s, frame.t),
            (0, Some(42), Some("MESSAGE_CREATE"))
        );
        let data = frame.d.unwrap().get();
        assert_eq!(Place::of(data).key(), "9");
        assert_eq!(Place::of(r#"{"guild_id":"8"}"#).key(), "8");
        assert_eq!(Place::of("null").key(), "");
        assert!(Frame::parse("nope").is_err());
    }

    #[test]
    fn guest_commands_are_checked_before_they_are_framed() {
        let presence =
            presence_update(br#"{"since":null,"activities":[],"status":"idle","afk":false}"#)
                .unwrap();
        assert!(presence.json.starts_with(r#"{"op":3,"d":{"#));
        assert!(
            presence_update(br#"{"status":"weird","since":null,"activities":[],"afk":false}"#)
                .is_err()
        );
        assert!(presence_update(b"[]").is_err());
        let all =
            request_guild_members(br#"{"guild_id":"81384788765712384","query":"","limit":0}"#)
                .unwrap();
        assert!(all.all_members);
        assert_eq!(all.guild_id, Some(81384788765712384));
        let some = request_guild_members(br#"{"guild_id":"1","user_ids":["2"]}"#).unwrap();
        assert!(!some.all_members);
        assert!(request_guild_members(br#"{"guild_id":"x","query":""}"#).is_err());
        let huge = format!(
            r#"{{"since":null,"activities":[{{"name":"{}","type":0}}],"status":"online","afk":false}}"#,
            "a".repeat(5000)
        );
        assert!(presence_update(huge.as_bytes())
            .unwrap_err()
            .contains("4096"));
        assert_eq!(
            shard_of(81384788765712384, 2),
            ((81384788765712384u64 >> 22) % 2) as u32
        );
    }
}
