//! What the library needs of its own when built without the standard library (the `capture`
//! profile, `panic = "abort"`): a panic handler, and libc named as a dependency.
//!
//! The profile's link-time optimisation matters here too: `core` comes precompiled for
//! unwinding, and only once it is optimised together with this abort-only crate do its
//! references to the unwinding personality (`rust_eh_personality`, which only `std` defines)
//! go away; without them the dynamic linker refuses the library, and every process of the job
//! fails to start. The end-to-end tests run this build.

/// A bug in the library: abort, as a panic escaping an `extern "C"` function of the `std`
/// build does.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // SAFETY: abort has no preconditions.
    unsafe { libc::abort() }
}

// The `libc` crate leaves linking libc to `std` when its default `std` feature is on, as the
// rest of the workspace has it. Without this the library would not name libc.so.6 as needed,
// and the dynamic linker could run its load constructor before libc's own set-up (`getenv`
// would see no environment yet).
#[link(name = "c")]
unsafe extern "C" {}
