//! The sandbox's limits, one hostile behaviour per test, on components
//! written inline in WAT (the way wasmtime tests itself): milliseconds each,
//! no guest build. The integration tests check the same limits end to end
//! through the real binary with a Rust guest.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::limits::Limits;

/// The answer every test bot gives: `{"type":4,"data":{"content":"N"}}`,
/// where N is the digit at address 93 (a counter some bots keep).
const ANSWER: &str = r#"{"type":4,"data":{"content":"0"}}"#;
const ANSWER_AT: usize = 64;
const COUNTER_AT: usize = ANSWER_AT + 29;

/// A component of the `bot` world whose `handle-interaction` runs `body`
/// (core wasm instructions) and then answers [`ANSWER`]. `extra` adds core
/// module fields (functions, tables); `pages` sizes linear memory.
fn bot_wat(body: &str, extra: &str, pages: u32) -> Vec<u8> {
    bot_wat_with(body, extra, pages, "")
}

/// [`bot_wat`] with extra canonical options on the lift (e.g. a post-return).
fn bot_wat_with(body: &str, extra: &str, pages: u32, lift_options: &str) -> Vec<u8> {
    assert_eq!(&ANSWER[COUNTER_AT - ANSWER_AT..][..1], "0");
    let answer = ANSWER.replace('"', "\\\"");
    let len = ANSWER.len();
    let wat = format!(
        r#"(component
    (core module $m
        (memory (export "memory") {pages})
        (data (i32.const {ANSWER_AT}) "{answer}")
        (global $heap (mut i32) (i32.const 4096))
        {extra}
        ;; A bump allocator: enough for the interaction the host passes in.
        (func (export "realloc") (param i32 i32 i32 i32) (result i32)
            (local $at i32)
            (local.set $at (global.get $heap))
            (global.set $heap (i32.add (global.get $heap) (local.get 3)))
            (local.get $at))
        (func (export "handle") (param $ptr i32) (param $len i32) (result i32)
            {body}
            ;; result<list<u8>, string> at 16: ok, the answer's pointer and length
            (i32.store8 (i32.const 16) (i32.const 0))
            (i32.store (i32.const 20) (i32.const {ANSWER_AT}))
            (i32.store (i32.const 24) (i32.const {len}))
            i32.const 16))
    (core instance $i (instantiate $m))
    (alias core export $i "memory" (core memory $memory))
    (alias core export $i "realloc" (core func $realloc))
    (alias core export $i "handle" (core func $handle))
    (func (export "handle-interaction")
        (param "interaction" (list u8))
        (result (result (list u8) (error string)))
        (canon lift (core func $handle) (memory $memory) (realloc $realloc) {lift_options})))"#
    );
    wat::parse_str(&wat).unwrap_or_else(|err| panic!("bad test WAT: {err}\n{wat}"))
}

/// Adds one to the counter digit in the answer.
const COUNT: &str =
    "(i32.store8 (i32.const 93) (i32.add (i32.load8_u (i32.const 93)) (i32.const 1)))";

fn limits(fuel: u64, memory_mib: u32, timeout_ms: u64, instances: u32) -> Limits {
    Limits {
        fuel,
        memory_mib,
        timeout_ms,
        instances,
    }
}

fn engine(max_instances: u32) -> Engine {
    Engine::new(PoolConfig {
        max_instances,
        max_memory_mib: 64,
    })
    .unwrap()
}

fn prepare(engine: &Engine, wasm: &[u8], limits: Limits) -> Bot {
    let compiled = engine.compile(wasm).unwrap();
    let env = BotEnv {
        bot_id: 1,
        name: "wat".into(),
        app_id: "1".into(),
        version: 1,
        limits,
        kv_quota: KvQuota::default(),
        kv: Arc::new(crate::sandbox::LocalKv(Db::open_in_memory())),
        db: Db::open_in_memory(),
        discord: Arc::new(crate::discord::Client::new("http://127.0.0.1:9/api/v10").unwrap()),
        token: None,
        retired: CancellationToken::new(),
        counters: Default::default(),
        gateway: Arc::new(crate::sandbox::NoGateway),
    };
    engine.prepare(&compiled.component, env)
}

fn default_limits() -> Limits {
    limits(10_000_000, 2, 5_000, 2)
}

async fn answer(bot: &Bot) -> Result<String, InvokeError> {
    let invocation = bot.invoke(br#"{"type":2}"#, None, None).await;
    invocation.result.map(|bytes| {
        let value: serde_json::Value = serde_json::from_slice(&bytes.json).unwrap();
        value["data"]["content"].as_str().unwrap().to_owned()
    })
}

#[tokio::test]
async fn a_healthy_instance_is_reused_and_keeps_its_memory() {
    let engine = engine(4);
    let bot = prepare(&engine, &bot_wat(COUNT, "", 1), default_limits());
    assert_eq!(answer(&bot).await.unwrap(), "1");
    assert_eq!(bot.idle_instances(), 1);
    assert_eq!(
        answer(&bot).await.unwrap(),
        "2",
        "the parked instance ran again"
    );
}

#[tokio::test]
async fn running_out_of_fuel_traps_and_the_instance_is_never_reused() {
    let engine = engine(4);
    let body =
        format!("{COUNT} (if (i32.eq (local.get $len) (i32.const 1)) (then (loop $l (br $l))))");
    let bot = prepare(&engine, &bot_wat(&body, "", 1), default_limits());
    assert_eq!(answer(&bot).await.unwrap(), "1");
    let looping = bot.invoke(b"x", None, None).await;
    let err = looping.result.unwrap_err();
    assert!(matches!(err, InvokeError::OutOfFuel(10_000_000)), "{err}");
    assert!(err.is_crash());
    assert!(looping.fuel_used >= 10_000_000);
    assert_eq!(bot.idle_instances(), 0, "a trapped instance was parked");
    // A fresh instance: the counter starts again.
    assert_eq!(answer(&bot).await.unwrap(), "1");
}

#[tokio::test]
async fn the_wall_clock_limit_ends_a_loop_that_fuel_would_not() {
    let engine = engine(4);
    let bot = prepare(
        &engine,
        &bot_wat("(loop $l (br $l))", "", 1),
        limits(1_000_000_000_000_000, 2, 50, 1),
    );
    let err = bot.invoke(b"{}", None, None).await.result.unwrap_err();
    assert!(matches!(err, InvokeError::Timeout(50)), "{err}");
    assert_eq!(bot.idle_instances(), 0);
}

#[tokio::test]
async fn growing_memory_past_the_limit_is_a_memory_crash() {
    let engine = engine(4);
    // 2 MiB allowed; ask for 3 MiB more than the one page it has.
    let body = "(drop (memory.grow (i32.const 48)))";
    let bot = prepare(&engine, &bot_wat(body, "", 1), default_limits());
    let invocation = bot.invoke(b"{}", None, None).await;
    let err = invocation.result.unwrap_err();
    assert!(
        matches!(&err, InvokeError::Memory(m) if m.contains("linear memory")),
        "{err}"
    );
    assert_eq!(err.label(), "memory");
    assert!(invocation.crash_detail.is_some());
    // Within the limit is fine.
    let body = "(drop (memory.grow (i32.const 16)))";
    let bot = prepare(&engine, &bot_wat(body, "", 1), default_limits());
    assert_eq!(answer(&bot).await.unwrap(), "0");
}

#[tokio::test]
async fn growing_a_table_past_the_limit_is_refused() {
    let engine = engine(4);
    let body = "(drop (table.grow $t (ref.null func) (i32.const 200000)))";
    let bot = prepare(
        &engine,
        &bot_wat(body, "(table $t 1 funcref)", 1),
        default_limits(),
    );
    let err = bot.invoke(b"{}", None, None).await.result.unwrap_err();
    assert!(
        matches!(&err, InvokeError::Memory(m) if m.contains("table limit")),
        "{err}"
    );
}

#[tokio::test]
async fn unbounded_recursion_is_a_stack_overflow() {
    let engine = engine(4);
    let bot = prepare(
        &engine,
        &bot_wat("(call $recurse)", "(func $recurse (call $recurse))", 1),
        default_limits(),
    );
    let err = bot.invoke(b"{}", None, None).await.result.unwrap_err();
    assert!(matches!(err, InvokeError::StackOverflow), "{err}");
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let engine = engine(4);
    // Point the answer at 2 MiB of memory: over the 1 MiB limit.
    let body = "(i32.store8 (i32.const 16) (i32.const 0)) \
                (i32.store (i32.const 20) (i32.const 0)) \
                (i32.store (i32.const 24) (i32.const 2097152)) \
                (return (i32.const 16))";
    let bot = prepare(
        &engine,
        &bot_wat(body, "", 40),
        limits(10_000_000, 8, 5_000, 1),
    );
    let err = bot.invoke(b"{}", None, None).await.result.unwrap_err();
    assert!(
        matches!(err, InvokeError::ResponseTooLarge(2_097_152)),
        "{err}"
    );
    assert!(
        !err.is_crash(),
        "an oversized answer is the bot's error, not a crash"
    );
    assert_eq!(bot.idle_instances(), 1, "the instance itself is fine");
}

#[tokio::test]
async fn a_full_pool_evicts_another_bots_least_recently_used_parked_instance() {
    // Room for two instances on the whole node.
    let engine = engine(2);
    let wasm = bot_wat(COUNT, "", 1);
    let idle = prepare(&engine, &wasm, default_limits());
    idle.prewarm().await.unwrap();
    idle.prewarm().await.unwrap();
    assert_eq!(idle.idle_instances(), 2);
    let busy = prepare(&engine, &wasm, default_limits());
    assert_eq!(answer(&busy).await.unwrap(), "1", "a tenant was locked out");
    assert_eq!(idle.idle_instances(), 1, "one parked instance made room");
}

#[tokio::test]
async fn a_removed_bot_stops_queued_and_running_events() {
    let engine = engine(4);
    let bot = Arc::new(prepare(
        &engine,
        &bot_wat("(loop $l (br $l))", "", 1),
        limits(1_000_000_000_000_000, 2, 60_000, 1),
    ));
    let running = tokio::spawn({
        let bot = bot.clone();
        async move { bot.invoke(b"{}", None, None).await.result }
    });
    let queued = tokio::spawn({
        let bot = bot.clone();
        async move { bot.invoke(b"{}", None, None).await.result }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    bot.retire();
    for event in [running, queued] {
        let result = tokio::time::timeout(Duration::from_secs(10), event)
            .await
            .expect("a removed bot's event kept going")
            .unwrap();
        assert!(matches!(result, Err(InvokeError::Removed)), "{result:?}");
    }
    assert_eq!(bot.idle_instances(), 0);
}

#[tokio::test]
async fn a_halted_bot_refuses_queued_events_and_lets_running_ones_finish() {
    let engine = engine(4);
    // Busy for a while (about 100 M iterations), then answers.
    let body = "(local $n i32) (local.set $n (i32.const 100000000)) \
                (loop $l (local.set $n (i32.sub (local.get $n) (i32.const 1))) \
                         (br_if $l (local.get $n)))";
    let bot = Arc::new(prepare(
        &engine,
        &bot_wat(body, "", 1),
        limits(1_000_000_000_000_000, 2, 60_000, 1),
    ));
    let first = tokio::spawn({
        let bot = bot.clone();
        async move { bot.invoke(b"{}", None, None).await.result }
    });
    // The first event holds the only instance; the second waits for it.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let queued = tokio::spawn({
        let bot = bot.clone();
        async move { bot.invoke(b"{}", None, None).await.result }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        !first.is_finished(),
        "the first event ended too soon to test a queue"
    );
    bot.halt();
    let queued = queued.await.unwrap();
    assert!(
        matches!(queued, Err(InvokeError::Quarantined)),
        "{queued:?}"
    );
    assert!(first.await.unwrap().is_ok());
}

#[tokio::test]
async fn the_answer_is_read_before_the_guest_frees_it() {
    // Like a real allocator, this guest's post-return reuses the answer's
    // memory as soon as the host is done with the call: here it scribbles
    // over the answer. The host must have its copy by then.
    let extra = format!(
        "(func (export \"post\") (param i32) (memory.fill (i32.const {ANSWER_AT}) (i32.const 255) (i32.const 16)))"
    );
    let wasm = bot_wat_with(COUNT, &extra, 1, "(post-return (core func $i \"post\"))");
    let engine = engine(4);
    let bot = prepare(&engine, &wasm, default_limits());
    // (Only once: the scribble stays in this instance's memory.)
    assert_eq!(answer(&bot).await.unwrap(), "1");
}

#[test]
fn every_failure_is_a_metrics_outcome() {
    use crate::metrics::OUTCOMES;
    let failures = [
        InvokeError::OutOfFuel(1),
        InvokeError::Timeout(1),
        InvokeError::Memory(String::new()),
        InvokeError::StackOverflow,
        InvokeError::Resources(1),
        InvokeError::Trap(String::new()),
        InvokeError::Guest(String::new()),
        InvokeError::ResponseTooLarge(1),
        InvokeError::Busy(1),
        InvokeError::Host(String::new()),
        InvokeError::NodeFull(String::new()),
        InvokeError::Removed,
        InvokeError::Quarantined,
    ];
    for failure in failures {
        // "other" is the catch-all for a label missing from the list.
        assert_ne!(failure.label(), "other");
        assert!(OUTCOMES.contains(&failure.label()), "{failure:?}");
    }
}

/// [`bot_wat`] plus a `handle-event` export (world `event-bot`) that runs
/// `body` and returns `ok`.
fn event_bot_wat(body: &str) -> Vec<u8> {
    let wat = format!(
        r#"(component
    (core module $m
        (memory (export "memory") 1)
        (global $heap (mut i32) (i32.const 4096))
        (func (export "realloc") (param i32 i32 i32 i32) (result i32)
            (local $at i32)
            (local.set $at (global.get $heap))
            (global.set $heap (i32.add (global.get $heap) (local.get 3)))
            (local.get $at))
        (func (export "handle") (param i32 i32) (result i32)
            ;; err(""): never called by these tests
            (i32.store8 (i32.const 16) (i32.const 1))
            (i32.store (i32.const 20) (i32.const 0))
            (i32.store (i32.const 24) (i32.const 0))
            i32.const 16)
        (func (export "handle-event") (param i32 i32 i32 i32 i32 i64) (result i32)
            {body}
            ;; result<_, string> at 16: ok
            (i32.store8 (i32.const 16) (i32.const 0))
            i32.const 16))
    (core instance $i (instantiate $m))
    (alias core export $i "memory" (core memory $memory))
    (alias core export $i "realloc" (core func $realloc))
    (alias core export $i "handle" (core func $handle))
    (alias core export $i "handle-event" (core func $handle-event))
    (type $event' (record (field "name" string) (field "data" (list u8)) (field "shard" u32) (field "sequence" u64)))
    (export $event "event" (type $event'))
    (func (export "handle-interaction")
        (param "interaction" (list u8))
        (result (result (list u8) (error string)))
        (canon lift (core func $handle) (memory $memory) (realloc $realloc)))
    (func (export "handle-event")
        (param "event" $event)
        (result (result (error string)))
        (canon lift (core func $handle-event) (memory $memory) (realloc $realloc))))"#
    );
    wat::parse_str(&wat).unwrap_or_else(|err| panic!("bad test WAT: {err}\n{wat}"))
}

#[tokio::test]
async fn with_the_pool_full_a_bots_second_event_waits_for_its_first_instead_of_failing() {
    // Room for one instance on the whole node; the bot may run 3 events at once.
    let engine = engine(1);
    // Busy for a while (about 100 M iterations), then done.
    let body = "(local $n i32) (local.set $n (i32.const 100000000)) \
                (loop $l (local.set $n (i32.sub (local.get $n) (i32.const 1))) \
                         (br_if $l (local.get $n)))";
    let bot = Arc::new(prepare(
        &engine,
        &event_bot_wat(body),
        limits(1_000_000_000_000_000, 2, 60_000, 4),
    ));
    assert!(bot.handles_events());
    let event = |sequence| crate::sandbox::Event {
        name: "MESSAGE_CREATE".into(),
        data: b"{}".to_vec(),
        shard: 0,
        sequence,
    };
    let first = tokio::spawn({
        let bot = bot.clone();
        async move { bot.invoke_event(&event(1)).await.result }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = tokio::spawn({
        let bot = bot.clone();
        async move { bot.invoke_event(&event(2)).await.result }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        !first.is_finished(),
        "the first event ended too soon to test a wait"
    );
    // Before, the second event found the pool full and nothing parked to
    // evict: `NodeFull`. It now takes the first's instance when it is back.
    let second = second.await.unwrap();
    assert!(second.is_ok(), "{second:?}");
    assert!(first.await.unwrap().is_ok());
    assert_eq!(bot.idle_instances(), 1, "one instance served both");
}

#[tokio::test]
async fn a_second_engine_compiles_from_the_shared_compile_cache_and_the_bot_still_runs() {
    let dir = tempfile::tempdir().unwrap();
    let pool = PoolConfig {
        max_instances: 2,
        max_memory_mib: 64,
    };
    let wasm = bot_wat(COUNT, "", 1);
    let first = Arc::new(crate::sandbox::DiskCache::open(dir.path()).unwrap());
    Engine::with_compile_cache(pool, Some(first.clone()))
        .unwrap()
        .compile(&wasm)
        .unwrap();
    let (hits, compiled) = first.counts();
    assert_eq!(hits, 0, "an empty cache has nothing to give");
    assert!(compiled > 0);

    // Another node (another engine) on the same directory: the functions
    // come from the cache, and the component answers as compiled afresh.
    let second = Arc::new(crate::sandbox::DiskCache::open(dir.path()).unwrap());
    let cached = Engine::with_compile_cache(pool, Some(second.clone())).unwrap();
    let bot = prepare(&cached, &wasm, default_limits());
    // (A function may vary between compiles, as the one that missed here
    // does: most must come from the cache.)
    let (hits, misses) = second.counts();
    assert!(
        hits > 0 && misses < hits,
        "{hits} from the cache, {misses} compiled again, of {compiled}"
    );
    assert_eq!(answer(&bot).await.unwrap(), "1");
}
