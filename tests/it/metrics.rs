//! `GET /metrics` read by a Prometheus text parser that is not ours
//! (`prometheus-parse`), before and after signed interactions through a
//! real node: the families are well-formed and their counters move.

use prometheus_parse::{Scrape, Value};

use crate::support::{command_bytes, Node, Signer};

const APP: &str = "1160000000000000000";

/// The node's `/metrics`, parsed.
async fn scrape(node: &Node) -> (String, Scrape) {
    let text = node.admin_get("/metrics").await;
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    let scrape = Scrape::parse(lines).expect("the exposition parses");
    (text, scrape)
}

/// The value of the one sample of `metric` whose labels include `labels`.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<Value> {
    let mut found = scrape.samples.iter().filter(|sample| {
        sample.metric == metric
            && labels
                .iter()
                .all(|(key, value)| sample.labels.get(key) == Some(value))
    });
    let sample = found.next()?;
    assert!(found.next().is_none(), "{metric} {labels:?} is ambiguous");
    Some(sample.value.clone())
}

fn counter(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match value(scrape, metric, labels) {
        Some(Value::Counter(n)) => n,
        None => 0.0,
        other => panic!("{metric} {labels:?} is not a counter: {other:?}"),
    }
}

fn gauge(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match value(scrape, metric, labels) {
        Some(Value::Gauge(n)) => n,
        other => panic!("{metric} {labels:?} is not a gauge: {other:?}"),
    }
}

/// A histogram's observation count (its `+Inf` bucket), checking that the
/// buckets are cumulative.
fn observations(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let Some(Value::Histogram(buckets)) = value(scrape, metric, labels) else {
        panic!("{metric} {labels:?} is not a histogram");
    };
    assert!(
        buckets
            .windows(2)
            .all(|pair| pair[0].count <= pair[1].count),
        "{metric}: buckets are not cumulative: {buckets:?}"
    );
    let last = buckets.last().expect("buckets");
    assert!(last.less_than.is_infinite());
    last.count
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_move_with_traffic() {
    let node = Node::start().await;
    let signer = Signer::new(16);
    node.deploy("counter-bot", "counter", APP, &signer).await;
    let (_, before) = scrape(&node).await;

    // Three interactions the bot answers (each a kv get and set), and one
    // with a signature from the wrong key.
    for _ in 0..3 {
        let (status, answer) = node
            .interact(APP, &signer, &command_bytes("count", "42"))
            .await;
        assert_eq!(status, 200, "{answer}");
    }
    let (status, _) = node
        .interact(APP, &Signer::new(99), &command_bytes("count", "42"))
        .await;
    assert_eq!(status, 401);

    let (text, after) = scrape(&node).await;
    let bot = ("bot", "counter");
    let moved = |metric: &str, labels: &[(&str, &str)]| {
        counter(&after, metric, labels) - counter(&before, metric, labels)
    };
    let ok = [bot, ("type", "command"), ("outcome", "ok")];
    assert_eq!(moved("appliance_interactions_total", &ok), 3.0, "{text}");
    assert_eq!(
        observations(&after, "appliance_interaction_duration_seconds", &[bot]),
        3.0,
        "{text}"
    );
    assert_eq!(
        observations(&after, "appliance_bot_run_duration_seconds", &[bot]),
        3.0
    );
    assert_eq!(
        moved("appliance_kv_operations_total", &[bot, ("op", "set")]),
        3.0
    );
    assert!(moved("appliance_kv_bytes_total", &[bot, ("direction", "written")]) > 0.0);
    assert!(moved("appliance_fuel_used_total", &[bot]) > 0.0);
    assert_eq!(
        moved(
            "appliance_ingress_rejected_total",
            &[("reason", "bad_signature")]
        ),
        1.0
    );
    assert!(moved("appliance_connections_accepted_total", &[]) >= 4.0);
    assert!(moved("appliance_store_commits_total", &[]) >= 3.0);
    assert!(observations(&after, "appliance_store_write_duration_seconds", &[]) >= 3.0);
    assert_eq!(gauge(&after, "appliance_bots_deployed", &[]), 1.0);
    assert!(gauge(&after, "appliance_instances", &[bot, ("state", "idle")]) >= 1.0);
    assert_eq!(
        gauge(&after, "appliance_bot_state", &[bot, ("state", "running")]),
        1.0
    );
    assert!(gauge(&after, "appliance_data_dir_free_bytes", &[]) > 0.0);

    // Every sample belongs to a family with its HELP text.
    for sample in &after.samples {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| sample.metric.strip_suffix(suffix))
            .filter(|family| after.docs.contains_key(*family))
            .unwrap_or(&sample.metric);
        assert!(
            after.docs.contains_key(family),
            "{} has no HELP line",
            sample.metric
        );
    }
}
