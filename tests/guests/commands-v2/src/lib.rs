//! Declares `/ping` and `/echo` (not `/remind` any more); answers "v2".

const ANSWER: &str = "v2";

const COMMANDS: &str = r#"[
  {"name": "ping", "description": "Check the bot answers"},
  {"name": "echo", "description": "Say it back", "options": [
    {"type": 3, "name": "text", "description": "What to say", "required": true}
  ]}
]"#;

include!("../../commands-v1/src/glue.rs");
