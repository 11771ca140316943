//! The `peiling` binary: parse arguments, run, turn the result into an exit status.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
