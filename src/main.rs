//! The `osmigrate` command: parses arguments, calls the library, renders what comes back.
//! Exit status: 0 clean, 1 done with warnings, 2 refused or failed, 64 bad usage, 70 internal error.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::exit::ExitStatus;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // The hook only says what happened; the panic then unwinds to here, so that destructors run
    // on the way (the state lock, temporary files, check's scratch directory) before exit 70.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("osmigrate: internal error (a bug; please report it): {info}");
    }));
    std::panic::catch_unwind(run).unwrap_or_else(|_| ExitStatus::Internal.into())
}

fn run() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let status = if e.use_stderr() { ExitStatus::Usage } else { ExitStatus::Clean };
            let _ = e.print();
            return status.into();
        }
    };
    cli::run(args).into()
}
