//! `overkill`: the command line and the service behind it, all in the
//! library ([`overkill::cli::main`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    overkill::cli::main()
}
