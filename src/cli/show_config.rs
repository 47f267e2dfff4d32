//! `appliance config show`: the settings `appliance serve` would run with,
//! as a config file, each value with where it came from (flag, env, file,
//! default) and secrets masked.
//!
//! Nothing here resolves settings: `Config::resolve` does, exactly as for
//! `serve`, and `Config::as_file` writes the result back as the file's keys.
//! Only the sources are worked out here: clap knows which flags and
//! environment variables were given, the file's own table which keys it
//! sets, and every other value is a default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory};

use crate::config::{Config, FileConfig, ServeArgs, Tls};

#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the configuration `serve` would run with (same flags, env and
    /// file) and where each value came from; secrets masked
    Show(ServeArgs),
}

/// Where one effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Flag(String),
    Env(String),
    File(PathBuf),
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(var) => write!(f, "env {var}"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

pub fn run(command: ConfigCommand) -> anyhow::Result<()> {
    let ConfigCommand::Show(args) = command;
    // The derived `ServeArgs` keeps no record of where a value came from;
    // clap's matches do, so the (already valid) command line is parsed
    // again for them.
    let matches = crate::cli::Cli::command().get_matches();
    let show = matches
        .subcommand_matches("config")
        .and_then(|config| config.subcommand_matches("show"))
        .context("config show: its command line could not be read again")?;
    let given = given_by_clap(show);
    let (file, file_keys) = match &args.config {
        Some(path) => (FileConfig::load(path)?, file_keys(path)?),
        None => (FileConfig::default(), toml::Table::new()),
    };
    let config = Config::resolve(&args, file)?;
    let source = |key: &str| {
        if let Some(source) = given.get(key) {
            return source.clone();
        }
        match (&args.config, lookup(&file_keys, key)) {
            (Some(path), true) => Source::File(path.clone()),
            _ => Source::Default,
        }
    };
    print!("{}", render(&config, args.config.as_deref(), source)?);
    Ok(())
}

/// The file keys set by a flag or an environment variable, with how.
fn given_by_clap(matches: &ArgMatches) -> BTreeMap<String, Source> {
    let command = ServeArgs::augment_args(clap::Command::new("show"));
    let mut given = BTreeMap::new();
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        let source = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => {
                Source::Flag(format!("--{}", arg.get_long().unwrap_or(id)))
            }
            Some(ValueSource::EnvVariable) => Source::Env(
                arg.get_env()
                    .map(|var| var.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
            _ => continue,
        };
        given.insert(file_key(id).to_owned(), source);
    }
    given
}

/// The config file's key for a `serve` flag: the same name, but for a flag
/// given once per value whose key holds the list.
fn file_key(arg_id: &str) -> &str {
    match arg_id {
        "acme_domain" => "acme_domains",
        // The fleet's flags are keys of the `[fleet]` table.
        "fleet_servers" => "fleet.servers",
        "fleet_node" => "fleet.node",
        "fleet_site" => "fleet.site",
        "fleet_creds" => "fleet.creds",
        "fleet_tls_ca" => "fleet.tls_ca",
        "fleet_tls_cert" => "fleet.tls_cert",
        "fleet_tls_key" => "fleet.tls_key",
        "fleet_key_file" => "fleet.key_file",
        "fleet_replicas" => "fleet.replicas",
        other => other,
    }
}

/// The keys the config file sets, as written (`FileConfig::load` has
/// already checked them).
fn file_keys(path: &Path) -> anyhow::Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read config file {}", path.display()))?;
    text.parse::<toml::Table>()
        .with_context(|| format!("invalid config file {}", path.display()))
}

/// Whether `table` holds the dotted `key` (`limits.max_connections`).
fn lookup(table: &toml::Table, key: &str) -> bool {
    match key.split_once('.') {
        Some((head, rest)) => table
            .get(head)
            .and_then(toml::Value::as_table)
            .is_some_and(|inner| lookup(inner, rest)),
        None => table.contains_key(key),
    }
}

/// The effective settings as a config file, each line commented with its source.
fn render(
    config: &Config,
    config_file: Option<&Path>,
    source: impl Fn(&str) -> Source,
) -> anyhow::Result<String> {
    let toml::Value::Table(effective) = toml::Value::try_from(config.as_file())? else {
        anyhow::bail!("the configuration did not serialize as a table");
    };
    let mut out = String::from(
        "# The settings `appliance serve` runs with, and where each came from\n\
         # (flags > APPLIANCE_* env > config file > defaults).\n",
    );
    match config_file {
        Some(path) => out.push_str(&format!("# Config file: {}\n", path.display())),
        None => out.push_str("# Config file: none\n"),
    }
    if config.tls == Tls::SelfSigned {
        out.push_str(&format!(
            "# TLS: a self-signed certificate in {} (no tls_cert, acme_domains or plain_http)\n",
            config.data_dir.join("tls").display()
        ));
    }
    let mut tables = Vec::new();
    for (key, value) in &effective {
        match value {
            toml::Value::Table(table) => tables.push((key, table)),
            value => out.push_str(&line(key, key, value, &source)),
        }
    }
    for (name, table) in tables {
        out.push_str(&format!("\n[{name}]\n"));
        for (key, value) in table {
            out.push_str(&line(key, &format!("{name}.{key}"), value, &source));
        }
    }
    Ok(out)
}

fn line(key: &str, path: &str, value: &toml::Value, source: &impl Fn(&str) -> Source) -> String {
    let setting = format!("{key} = {}", mask(key, value));
    format!("{setting:<40} # {}\n", source(path))
}

/// The value as TOML, with secrets replaced: a key that names one (a token,
/// password or secret) shows no value, a URL no password.
fn mask(key: &str, value: &toml::Value) -> String {
    const HIDDEN: &str = "\"********\"";
    let secret = ["token", "password", "secret"]
        .iter()
        .any(|word| key.contains(word));
    match value {
        _ if secret => HIDDEN.to_owned(),
        toml::Value::String(text) => toml::Value::String(mask_url_password(text)).to_string(),
        toml::Value::Array(items) => {
            let items: Vec<_> = items.iter().map(|item| mask(key, item)).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// `https://user:pass@host/...` → `https://user:********@host/...`.
fn mask_url_password(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return text.to_owned();
    };
    let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
    format!("{scheme}://{user}:********@{host}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_and_secret_keys_are_masked() {
        assert_eq!(
            mask_url_password("https://bot:hunter2@proxy.example/api?x=@"),
            "https://bot:********@proxy.example/api?x=@"
        );
        assert_eq!(
            mask_url_password("https://discord.com/api/v10"),
            "https://discord.com/api/v10"
        );
        let token = toml::Value::String("abc".into());
        assert_eq!(mask("metrics_token", &token), "\"********\"");
        assert_eq!(mask("data_dir", &token), "\"abc\"");
    }

    #[test]
    fn every_serve_flag_names_a_config_file_key() {
        let command = ServeArgs::augment_args(clap::Command::new("show"));
        for arg in command.get_arguments() {
            let key = file_key(arg.get_id().as_str());
            // `--config` names the file itself; `--takeover` is an action.
            if ["config", "takeover"].contains(&key) {
                continue;
            }
            // The file refuses unknown keys by name; a known one with a
            // value of the wrong type fails differently.
            let err = toml::from_str::<FileConfig>(&format!("{key} = [[]]")).unwrap_err();
            assert!(
                !err.to_string().contains("unknown field"),
                "--{key} has no config file key, so `config show` cannot place it: {err}"
            );
        }
    }
}
