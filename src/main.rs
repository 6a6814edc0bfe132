use std::process::ExitCode;

// The parser and the model allocate many small nodes; jemalloc is markedly faster than glibc's
// malloc for that, and it is what Ruff uses on Linux.
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

// jemalloc's start-up options (a NUL-terminated string jemalloc reads through this symbol; the
// `_RJEM_MALLOC_CONF` environment variable still overrides them). One arena instead of eight
// (four per CPU): fewer partly used runs of pages held by separate arenas. Peak RSS of `lint` on the benchmark trees: real
// 47.7 -> 44.7 MiB, generated 67.2 -> 65.1 MiB; wall time unchanged (interleaved medians).
// Not `thp:always`: huge pages cut the page faults (7-10 % faster) but add ~9 MiB, which puts
// the real tree above the 2x-Ruff memory target (53 MiB vs Ruff's 26).
#[cfg(not(feature = "system-alloc"))]
#[allow(unsafe_code)] // a symbol jemalloc reads; no unsafe operation happens here
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &u8 = &b"narenas:1\0"[0];

fn main() -> ExitCode {
    celery_doctor::cli::main()
}
