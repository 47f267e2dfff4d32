//! Declares a command Discord would refuse: its second option is required
//! after an optional one. Answers "bad" (it must never serve).

const ANSWER: &str = "bad";

const COMMANDS: &str = r#"[
  {"name": "ping", "description": "Check the bot answers"},
  {"name": "remind", "description": "Remind me later", "options": [
    {"type": 3, "name": "text", "description": "What to say"},
    {"type": 4, "name": "seconds", "description": "How long to wait", "required": true}
  ]}
]"#;

include!("../../commands-v1/src/glue.rs");
