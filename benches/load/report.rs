//! Prints each measurement as it lands, and at the end a summary per
//! scenario: medians over the runs, and every target's ratio to the bare
//! baseline measured in the same pass.

use std::collections::BTreeMap;

use crate::driver::Outcome;

/// The name the bare baseline is reported under.
pub const BARE: &str = "bare";

pub struct Measured {
    pub scenario: &'static str,
    pub target: String,
    pub concurrency: usize,
    pub run: usize,
    pub outcome: Outcome,
}

pub fn header() {
    println!(
        "{:<22} {:<18} {:>3} {:>3} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8} {:>7}",
        "scenario",
        "target",
        "c",
        "run",
        "req/s",
        "p50 µs",
        "p90 µs",
        "p99 µs",
        "p999 µs",
        "cpu µs/rq",
        "drv µs/rq",
        "RSS MiB",
        "errors"
    );
}

pub fn row(m: &Measured) {
    let o = &m.outcome;
    let errors = o.requests() - o.ok;
    println!(
        "{:<22} {:<18} {:>3} {:>3} {:>9.0} {:>8} {:>8} {:>8} {:>8} {:>9.1} {:>9.1} {:>8.1} {:>7}",
        m.scenario,
        m.target,
        m.concurrency,
        m.run,
        o.throughput(),
        o.percentile_us(0.5),
        o.percentile_us(0.9),
        o.percentile_us(0.99),
        o.percentile_us(0.999),
        o.server_cpu_per_request_us(),
        o.driver_cpu_per_request_us(),
        o.server_rss_kib as f64 / 1024.0,
        errors
    );
    if errors > 0 || o.signed_inline > 0 {
        println!(
            "    failures by status {:?}, wrong answers {}, signed inline {}; last answer: {}",
            o.failures,
            o.wrong_answers,
            o.signed_inline,
            String::from_utf8_lossy(&o.last_answer)
        );
    }
}

/// Median of a few values (the mean of the middle two for an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Medians over runs per (scenario, concurrency, target), and ratios to
/// the bare baseline of the same scenario and concurrency.
pub fn summary(all: &[Measured]) {
    type Key<'a> = (&'a str, usize, &'a str);
    let mut groups: BTreeMap<Key, Vec<&Outcome>> = BTreeMap::new();
    for m in all {
        groups
            .entry((m.scenario, m.concurrency, m.target.as_str()))
            .or_default()
            .push(&m.outcome);
    }
    let med = |outcomes: &[&Outcome], f: &dyn Fn(&Outcome) -> f64| {
        median(outcomes.iter().map(|o| f(o)).collect())
    };
    println!();
    println!("summary: medians over runs; ratios are target / bare in the same scenario");
    println!(
        "{:<22} {:>3} {:<18} {:>4} {:>9} {:>8} {:>8} {:>8} {:>9} {:>8} {:>9} {:>9}",
        "scenario",
        "c",
        "target",
        "runs",
        "req/s",
        "p50 µs",
        "p99 µs",
        "p999 µs",
        "cpu µs/rq",
        "RSS MiB",
        "tput ×bare",
        "p99 ×bare"
    );
    for ((scenario, c, target), outcomes) in &groups {
        let tput = med(outcomes, &|o| o.throughput());
        let p99 = med(outcomes, &|o| o.percentile_us(0.99) as f64);
        let (tput_ratio, p99_ratio) = match groups.get(&(scenario, *c, BARE)) {
            Some(bare) if *target != BARE => (
                format!("{:.2}", tput / med(bare, &|o| o.throughput())),
                format!("{:.2}", p99 / med(bare, &|o| o.percentile_us(0.99) as f64)),
            ),
            _ => ("".into(), "".into()),
        };
        println!(
            "{:<22} {:>3} {:<18} {:>4} {:>9.0} {:>8.0} {:>8.0} {:>8.0} {:>9.1} {:>8.1} {:>9} {:>9}",
            scenario,
            c,
            target,
            outcomes.len(),
            tput,
            med(outcomes, &|o| o.percentile_us(0.5) as f64),
            p99,
            med(outcomes, &|o| o.percentile_us(0.999) as f64),
            med(outcomes, &|o| o.server_cpu_per_request_us()),
            med(outcomes, &|o| o.server_rss_kib as f64 / 1024.0),
            tput_ratio,
            p99_ratio
        );
    }
}
