use std::process::ExitCode;

// The parser and the model allocate many small nodes; mimalloc is markedly faster than glibc's
// malloc for that (Ruff uses a non-system allocator for the same reason).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    celery_doctor::cli::main()
}
