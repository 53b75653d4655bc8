//! `completions SHELL` and `man`: generated from the command-line definition itself, so they
//! always match the options the binary takes.

use std::path::PathBuf;

use clap::CommandFactory;
use osmigrate::{Error, Result};

use super::Cli;
use super::exit::ExitStatus;

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Write a page per command (`osmigrate.1`, `osmigrate-migrate.1`, …) into this directory
    /// instead of the main page on stdout.
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

pub fn completions(args: CompletionsArgs) -> Result<ExitStatus> {
    clap_complete::generate(args.shell, &mut Cli::command(), "osmigrate", &mut std::io::stdout());
    Ok(ExitStatus::Clean)
}

pub fn man(args: ManArgs) -> Result<ExitStatus> {
    let command = Cli::command();
    if let Some(dir) = args.out_dir {
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        clap_mangen::generate_to(command, &dir).map_err(|e| Error::io(&dir, e))?;
    } else {
        let mut stdout = std::io::stdout();
        clap_mangen::Man::new(command).render(&mut stdout).map_err(|e| Error::io(std::path::Path::new("stdout"), e))?;
    }
    Ok(ExitStatus::Clean)
}
