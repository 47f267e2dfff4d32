//! The interaction JSON the host reads itself (type, id, token, command
//! name) and the guest's answer the host checks before sending it on.
#![no_main]

use appliance::protocol::interaction::{check_response, Head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(head) = Head::parse(data) {
        let _ = head.id();
    }
    let _ = check_response(data.to_vec());
});
