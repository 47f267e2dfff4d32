//! The error type of bot handlers.

use std::fmt;

use crate::kv::KvError;

/// The result type of handlers (see [`Router`](crate::Router)) and of the SDK's
/// fallible helpers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a handler failed.
///
/// It is deliberately just a message: the host shows it to the user as an
/// ephemeral notice and writes it to the bot's log, so write it for a person.
/// `?` converts the errors a handler usually meets (key-value errors, JSON
/// errors, number parsing, plain strings) into it.
///
/// ```
/// use appliance_sdk::Error;
///
/// fn parse_count(text: &str) -> appliance_sdk::Result<u32> {
///     if text.is_empty() {
///         return Err("type a number".into());
///     }
///     Ok(text.parse()?)
/// }
///
/// assert_eq!(parse_count("3").unwrap(), 3);
/// assert_eq!(parse_count("").unwrap_err().to_string(), "type a number");
/// # let _ = Error::new("x");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// Creates an error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The message, as the user will see it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

// A blanket `impl<E: std::error::Error> From<E>` would conflict with the
// `From<String>` and `From<&str>` impls (and with `Error` itself being an
// error), so the common sources are listed one by one.

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<KvError> for Error {
    fn from(error: KvError) -> Self {
        Self::new(format!("storage: {error}"))
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Self::new(format!("json: {error}"))
    }
}

impl From<std::num::ParseIntError> for Error {
    fn from(error: std::num::ParseIntError) -> Self {
        Self::new(format!("not a whole number: {error}"))
    }
}

impl From<std::num::ParseFloatError> for Error {
    fn from(error: std::num::ParseFloatError) -> Self {
        Self::new(format!("not a number: {error}"))
    }
}

impl From<std::string::FromUtf8Error> for Error {
    fn from(error: std::string::FromUtf8Error) -> Self {
        Self::new(format!("not UTF-8 text: {error}"))
    }
}

impl From<std::str::Utf8Error> for Error {
    fn from(error: std::str::Utf8Error) -> Self {
        Self::new(format!("not UTF-8 text: {error}"))
    }
}

impl From<std::fmt::Error> for Error {
    fn from(error: std::fmt::Error) -> Self {
        Self::new(format!("formatting: {error}"))
    }
}

impl From<crate::discord::DiscordError> for Error {
    fn from(error: crate::discord::DiscordError) -> Self {
        Error::new(error.to_string())
    }
}

impl From<crate::gateway::GatewayError> for Error {
    fn from(error: crate::gateway::GatewayError) -> Self {
        Error::new(error.to_string())
    }
}
