use std::process::ExitCode;

// The parser and the model allocate many small nodes; jemalloc is markedly faster than glibc's
// malloc for that, and it is what Ruff uses on Linux.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    celery_doctor::cli::main()
}
