//! The `appliance` binary: parse the command line, run, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Usage errors exit 2 inside `parse` (clap's convention, DESIGN.md's contract).
    let cli = appliance::cli::Cli::parse();
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line: the error and its causes, for scripts and people alike.
            // Escaped: a node's or a component's text (an import name, a
            // guest's message) must not drive the terminal or add lines.
            let message = format!("{err:#}");
            eprintln!("error: {}", appliance::text::for_terminal(&message));
            ExitCode::from(1)
        }
    }
}
