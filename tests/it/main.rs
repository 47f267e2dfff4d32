//! One integration-test binary: each module drives the real `appliance`
//! binary on loopback with its own temporary data dir (`discord_rest` drives
//! the library's Discord client against a fake Discord).

// Starting nodes, building guests, signing and sending interactions.
mod support;

// The public endpoint: signatures, status codes, PING, TLS.
mod ingress;
// Hostile guests: limits, restart on trap, crash loops, rollback.
mod sandbox;
// The 3-second deadline, late answers, and the REST import with a fake Discord.
mod deadline;
// Client commands: deploy validation, list, remove, invoke, logs, restart.
mod cli;
// The outbound Discord REST client against a fake Discord: rate limits, tokens, deadlines.
mod discord_rest;
// The edge under abuse: slowloris, caps, bad-signature floods, replays, rapid reset, cert reload, 403 breaker.
mod edge;
// Tenancy: a full shared instance pool evicts parked instances; guests reach no files, env or network.
mod capacity;
// Tenant isolation: removal and quarantine timing, exact KV quotas, escaped guest text, host-side bounds.
mod isolation;
// Start-up: a failed first start leaves nothing behind.
mod startup;
// Deploys by hash: known components without the upload.
mod deploy;
// Discord webhook events over HTTP, into the event handler of world event-bot.
mod events;
// Gateway sessions held by the node, against the fake gateway.
mod gateway;
// Commands declared in code, registered by the node at deploy, rollback and sync.
mod commands;
// examples/modlog end to end: slash commands, gateway events, REST with the node's token.
mod modlog;
// The fake Discord gateway against twilight-gateway's Shard, and /gateway/bot on the fake REST API.
mod fake_gateway_selftest;
// `appliance new`: each template's crate builds, passes its tests, deploys and answers.
mod new_bot;
// `appliance dev`: redeploys on save, keeps the last good version when a build fails.
mod dev_loop;
// Packages: the .deb's contents, its systemd unit and maintainer scripts, the packaged binary.
mod packaging;
// ACME against a local pebble: TLS-ALPN-01 on the public listener, issuance and renewal.
mod acme;
// `/metrics` read by a Prometheus parser: well-formed, and counters move with traffic.
mod metrics;
// Restarts and upgrades under load (`serve --takeover`), and /readyz.
mod handover;
// Logs and diagnosis: logs filters, JSON node logs, doctor, config show.
mod diagnosis;
// Backups of a serving node, restores and what they refuse; the disk reserve.
mod backup;
// A fleet of nodes on NATS JetStream: deploy once, fail closed when cut off.
mod fleet;
// A fleet's bot KV never returns what a cut-off stream leader still answers.
mod fleet_reads;
// Bots in Python (guest-sdk/python): the examples answer like the Rust ones; failures are contained.
mod py_bots;
// Bots in JavaScript and TypeScript (guest-sdk/js): same answers as the Rust examples, crashes with their stack, limits.
mod js_bots;
// Tidy: the layer order of src/lib.rs, and one owner per foreign engine.
mod tidy;
