use std::process::ExitCode;

use sockspec::cli;

fn main() -> ExitCode {
    let args = cli::parse_args();
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(err) if err.is_broken_pipe() => ExitCode::SUCCESS,
        Err(err) => {
            let code = err.exit_code();
            // `{:#}` puts the whole cause chain on one line: "cannot read x: No such file or directory".
            eprintln!("sockspec: {:#}", anyhow::Error::from(err));
            ExitCode::from(code)
        }
    }
}
