//! The `planmap` command.

// Plan parsing and the plugin boundary allocate many small strings; mimalloc is
// markedly faster than glibc malloc at that (measured with `planmap bench`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    planmap::cli::main()
}
