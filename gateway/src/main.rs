//! The `tollgate` binary.

/// jemalloc, not glibc's allocator: after a burst of large bodies glibc kept ten times its idle
/// memory resident for as long as we watched; jemalloc's background threads return freed
/// pages to the system within seconds (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    tollgate::cli::main()
}
