//! The `tagsync` binary: parse, run, map the outcome to an exit code (SPEC §3).

use std::process::ExitCode;

use clap::Parser;
use tagsync::cli::{self, Success};

fn main() -> ExitCode {
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            // clap's own exit codes: 0 for --help/--version, 2 for bad arguments.
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    if let Err(e) = cli::logging::init() {
        anstream::eprintln!("{e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(Success::Done) => ExitCode::SUCCESS,
        Ok(Success::ChangesPending) => ExitCode::from(3),
        Err(failure) => {
            anstream::eprintln!("{}", failure.render());
            ExitCode::from(failure.exit_code())
        }
    }
}
