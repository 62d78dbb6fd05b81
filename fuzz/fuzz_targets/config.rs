//! The gateway configuration and verification policy parsers: no input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(config) = tollgate::config::GatewayConfig::from_json(&text) {
        let _ = config.route("GET", "/api/x");
        let _ = config.access_token_audience();
    }
    let _ = tollgate::Policy::from_json(&text);
});
