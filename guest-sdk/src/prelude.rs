//! What a bot needs, in one import: `use appliance_sdk::prelude::*;`.
//!
//! The bot traits and the [`Router`], [`Interaction`] and [`Response`] with
//! its builders, the SDK's [`Result`] and [`Error`], [`Event`], the command
//! derives and traits (from [`command`](crate::command)), the host modules
//! ([`kv`], [`log`], [`discord`], [`gateway`]), and twilight's [`Id`] with
//! the markers bots meet most.

pub use crate::command::{
    AutocompleteValue, CommandModel, CommandOption, CreateCommand, CreateOption,
    ResolvedMentionable, ResolvedUser,
};
pub use crate::model::id::marker::{
    ApplicationMarker, AttachmentMarker, ChannelMarker, GenericMarker, GuildMarker,
    InteractionMarker, MessageMarker, RoleMarker, UserMarker,
};
pub use crate::model::id::Id;
pub use crate::{discord, gateway, kv, log};
pub use crate::{
    row, Bot, Button, ContextMenu, Embed, Error, Event, EventBot, Focused, Interaction, Response,
    Result, Router, SelectMenu, SelectOption, TextInput,
};
