//! The `planmap` command.

fn main() -> std::process::ExitCode {
    planmap::cli::main()
}
