//! Fuzz target: see `portwarden_fuzz::socks` for what is fed and which properties are asserted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| portwarden_fuzz::socks(data));
