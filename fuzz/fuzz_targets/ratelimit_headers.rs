//! Discord's rate-limit headers and 429 bodies as the REST client reads
//! them. Input: header lines `name: value` separated by newlines, a blank
//! line, then the body; the first byte picks the status and content type.
#![no_main]

use appliance::discord::fuzzing::fuzz_answer;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let split = rest.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(at) => (&rest[..at], &rest[at + 2..]),
        None => (rest, &[][..]),
    };
    let mut headers = HeaderMap::new();
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    let content_type = match selector % 3 {
        0 => Some("application/json"),
        1 => Some("text/plain"),
        _ => None,
    };
    let status = if selector & 0x80 != 0 { 429 } else { 200 };
    fuzz_answer(&headers, content_type, body, status);
});
