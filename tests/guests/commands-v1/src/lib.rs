//! Declares `/ping`, `/remind` (typed options) and a user command; answers "v1".

const ANSWER: &str = "v1";

const COMMANDS: &str = r#"[
  {"name": "ping", "description": "Check the bot answers", "type": 1},
  {"name": "remind", "description": "Remind me later", "options": [
    {"type": 4, "name": "seconds", "description": "How long to wait", "required": true, "min_value": 1, "max_value": 900},
    {"type": 3, "name": "text", "description": "What to say", "max_length": 200}
  ], "contexts": [0, 1]},
  {"name": "High Five", "type": 2, "description": ""}
]"#;

include!("glue.rs");
