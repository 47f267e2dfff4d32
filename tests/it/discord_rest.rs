//! `appliance::discord::Client` against the fake Discord: rate limits are
//! honoured before Discord has to enforce them, tokens are guarded, and
//! every wait respects the caller's deadline.

use std::time::Duration;

use appliance::discord::{Auth, Client, Error};
use bytes::Bytes;
use hyper::Method;
use tokio::time::Instant;

use crate::support::fake_discord::{FakeConfig, FakeDiscord, Reply, RouteLimit, Script};

const TOKEN_A: &str = "token-a";
const TOKEN_B: &str = "token-b";

async fn start(config: FakeConfig) -> (FakeDiscord, Client) {
    let fake = FakeDiscord::start(config).await;
    let client = Client::new(&fake.base_url()).unwrap();
    (fake, client)
}

fn in_secs(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}

/// A GET as `token` with a deadline `seconds` from now.
async fn get(
    client: &Client,
    token: &str,
    path: &str,
    seconds: u64,
) -> Result<appliance::discord::Response, Error> {
    client
        .request(Auth::Bot(token), Method::GET, path, None, in_secs(seconds))
        .await
}

/// A POST of `body` as `token` with a deadline `seconds` from now.
async fn post(
    client: &Client,
    token: &str,
    path: &str,
    body: Option<Bytes>,
    seconds: u64,
) -> Result<appliance::discord::Response, Error> {
    client
        .request(Auth::Bot(token), Method::POST, path, body, in_secs(seconds))
        .await
}

fn message(content: &str) -> Option<Bytes> {
    Some(Bytes::from(
        serde_json::json!({ "content": content }).to_string(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_of_500_never_sends_into_an_empty_bucket_or_over_50_per_second() {
    let (fake, client) = start(FakeConfig {
        routes: vec![
            RouteLimit {
                method: "POST",
                template: "/channels/{major}/messages",
                bucket: "messages",
                limit: 5,
                window: Duration::from_millis(200),
            },
            RouteLimit {
                method: "GET",
                template: "/guilds/{major}/roles",
                bucket: "roles",
                limit: 5,
                window: Duration::from_millis(200),
            },
        ],
        ..FakeConfig::default()
    })
    .await;
    let started = Instant::now();
    let deadline = in_secs(60);
    let mut tasks = Vec::new();
    for i in 0..500 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            // Three limits: one bucket on two channels, and another bucket.
            let (method, path, body) = match i % 3 {
                0 => (Method::POST, "/channels/1/messages", message("hi")),
                1 => (Method::POST, "/channels/2/messages", message("hi")),
                _ => (Method::GET, "/guilds/3/roles", None),
            };
            client
                .request(Auth::Bot(TOKEN_A), method, path, body, deadline)
                .await
        }));
    }
    for task in tasks {
        let response = task.await.unwrap().unwrap();
        assert_eq!(response.status, 200);
    }
    let elapsed = started.elapsed();
    let requests = fake.requests();
    assert_eq!(requests.len(), 500, "no request was sent twice");
    assert_eq!(
        fake.violations(),
        Default::default(),
        "Discord would have answered 429"
    );
    assert_eq!(fake.rate_limited(), 0);
    let max = fake.max_per_second(TOKEN_A);
    assert!(max <= 50, "{max} requests within one second");
    // The global limit is the bottleneck: 500 requests need about 10 s, not much more.
    assert!(elapsed >= Duration::from_secs(9), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    let first = &requests[0];
    assert_eq!(first.authorization.as_deref(), Some("Bot token-a"));
    assert!(first
        .user_agent
        .as_deref()
        .is_some_and(|ua| ua.starts_with("DiscordBot (https://github.com/appliance/appliance, ")));
    let post = requests.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(post.content_type.as_deref(), Some("application/json"));
    assert_eq!(&post.body[..], br#"{"content":"hi"}"#);
}

#[tokio::test]
async fn global_429_pauses_all_of_that_tokens_requests() {
    let (fake, client) = start(FakeConfig::default()).await;
    fake.script(Script {
        method: "GET",
        path_prefix: "/users/@me".into(),
        times: 1,
        reply: Reply::RateLimited {
            retry_after: 0.5,
            global: true,
            scope: "global",
        },
    });
    let started = Instant::now();
    let first = tokio::spawn({
        let client = client.clone();
        async move {
            let response = get(&client, TOKEN_A, "/users/@me", 5).await;
            (response, started.elapsed())
        }
    });
    while fake.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let others: Vec<_> = (0..5)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let path = format!("/channels/{i}");
                get(&client, TOKEN_A, &path, 5).await.unwrap();
                started.elapsed()
            })
        })
        .collect();
    // Another token is not paused.
    get(&client, TOKEN_B, "/channels/9", 5).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "token B waited"
    );

    let (response, first_elapsed) = first.await.unwrap();
    assert_eq!(
        response.unwrap().status,
        200,
        "retried once after the pause"
    );
    assert!(
        first_elapsed >= Duration::from_millis(500),
        "{first_elapsed:?}"
    );
    for other in others {
        let elapsed = other.await.unwrap();
        assert!(
            elapsed >= Duration::from_millis(500),
            "a request went out during the pause: {elapsed:?}"
        );
    }
    assert_eq!(fake.violations(), Default::default());
    assert_eq!(fake.rate_limited(), 1);
    let status = client.token_status(TOKEN_A);
    assert_eq!(status.rate_limited, 1);
    assert_eq!(status.invalid_requests_10min, 1);
}

#[tokio::test]
async fn two_tokens_have_independent_limits() {
    let (fake, client) = start(FakeConfig {
        default_limit: 2,
        default_window: Duration::from_secs(5),
        ..FakeConfig::default()
    })
    .await;
    for token in [TOKEN_A, TOKEN_B] {
        for _ in 0..2 {
            let response = post(&client, token, "/channels/1/messages", message("x"), 2)
                .await
                .unwrap();
            assert_eq!(response.status, 200);
        }
    }
    // Token A's bucket for channel 1 is empty for ~5 s: a 1 s deadline fails at once...
    let started = Instant::now();
    let err = post(&client, TOKEN_A, "/channels/1/messages", message("x"), 1)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after, global: false } if retry_after > Duration::from_secs(4)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(250));
    // ...while channel 2 is another limit.
    post(&client, TOKEN_A, "/channels/2/messages", message("x"), 1)
        .await
        .unwrap();
    assert_eq!(fake.requests().len(), 5);
    assert_eq!(fake.violations(), Default::default());
}

#[tokio::test]
async fn a_401_stops_all_traffic_with_that_token_until_reset() {
    let (fake, client) = start(FakeConfig::default()).await;
    fake.invalidate_token(TOKEN_A);
    let err = get(&client, TOKEN_A, "/users/@me", 2).await.unwrap_err();
    assert!(matches!(err, Error::TokenRevoked), "{err:?}");
    assert!(err.to_string().contains("401") && !err.to_string().contains(TOKEN_A));
    for path in ["/users/@me", "/channels/1/messages", "/guilds/1"] {
        let err = client
            .request(Auth::Bot(TOKEN_A), Method::GET, path, None, in_secs(2))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::TokenRevoked), "{err:?}");
    }
    assert_eq!(
        fake.requests_with_token(TOKEN_A),
        1,
        "Discord saw the token once"
    );
    let status = client.token_status(TOKEN_A);
    assert!(status.revoked);
    assert_eq!(status.invalid_requests_10min, 1);
    assert!(!client.token_status(TOKEN_B).revoked);
    // Interaction responses carry no token, so they still work.
    let response = client
        .request(
            Auth::Bot(TOKEN_A),
            Method::PATCH,
            "/webhooks/11/interaction-token/messages/@original",
            message("still here"),
            in_secs(2),
        )
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    // A reset (a redeploy with a new token) lets requests through again.
    client.reset_token(TOKEN_A);
    assert!(!client.token_status(TOKEN_A).revoked);
    let err = get(&client, TOKEN_A, "/users/@me", 2).await.unwrap_err();
    assert!(matches!(err, Error::TokenRevoked));
    assert_eq!(fake.requests_with_token(TOKEN_A), 2);
}

#[tokio::test]
async fn interaction_routes_carry_no_authorization() {
    let (fake, client) = start(FakeConfig::default()).await;
    let routes = [
        (
            Method::POST,
            "/interactions/1180000000000000001/tok-1/callback",
        ),
        (
            Method::PATCH,
            "/webhooks/1180000000000000000/tok-1/messages/@original",
        ),
        (
            Method::POST,
            "/webhooks/1180000000000000000/tok-1?wait=true",
        ),
        (
            Method::DELETE,
            "/webhooks/1180000000000000000/tok-1/messages/1180000000000000009",
        ),
    ];
    for (method, path) in routes {
        let response = client
            .request(
                Auth::Bot(TOKEN_A),
                method,
                path,
                message("hello"),
                in_secs(2),
            )
            .await
            .unwrap();
        assert!(response.status < 300, "{path}: {}", response.status);
    }
    get(&client, TOKEN_A, "/channels/5", 2).await.unwrap();
    let requests = fake.requests();
    assert_eq!(requests.len(), 5);
    for request in &requests[..4] {
        assert_eq!(
            request.authorization, None,
            "{} {}",
            request.method, request.path
        );
        assert!(request.user_agent.is_some());
    }
    assert_eq!(requests[4].authorization.as_deref(), Some("Bot token-a"));
    assert_eq!(
        requests[2].path,
        "/webhooks/1180000000000000000/tok-1?wait=true"
    );
}

#[tokio::test]
async fn keep_alive_1000_sequential_calls_use_at_most_two_connections() {
    let (fake, client) = start(FakeConfig {
        routes: vec![RouteLimit {
            method: "PATCH",
            template: "/webhooks/{major}/{token}/messages/@original",
            bucket: "edit",
            limit: 100_000,
            window: Duration::from_secs(60),
        }],
        ..FakeConfig::default()
    })
    .await;
    let started = Instant::now();
    for i in 0..1000 {
        let response = client
            .request(
                Auth::Bot(TOKEN_A),
                Method::PATCH,
                "/webhooks/1/interaction-token/messages/@original",
                message(&i.to_string()),
                in_secs(5),
            )
            .await
            .unwrap();
        assert_eq!(response.status, 200);
    }
    assert_eq!(fake.requests().len(), 1000);
    let connections = fake.connections();
    assert!(
        connections <= 2,
        "{connections} connections for 1,000 calls"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[tokio::test]
async fn a_deadline_that_cannot_be_met_fails_fast() {
    let (fake, client) = start(FakeConfig {
        default_limit: 1,
        default_window: Duration::from_secs(5),
        ..FakeConfig::default()
    })
    .await;
    get(&client, TOKEN_A, "/channels/1", 2).await.unwrap();
    let started = Instant::now();
    let err = get(&client, TOKEN_A, "/channels/1", 2).await.unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "slept {:?}",
        started.elapsed()
    );
    // A deadline already passed sends nothing.
    let err = client
        .request(
            Auth::Bot(TOKEN_A),
            Method::GET,
            "/channels/2",
            None,
            Instant::now(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DeadlineExceeded { sent: false }),
        "{err:?}"
    );
    // A slow answer is abandoned at the deadline.
    fake.script(Script {
        method: "GET",
        path_prefix: "/channels/3".into(),
        times: 1,
        reply: Reply::Slow(Duration::from_secs(3)),
    });
    let started = Instant::now();
    let err = client
        .request(
            Auth::Bot(TOKEN_A),
            Method::GET,
            "/channels/3",
            None,
            Instant::now() + Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DeadlineExceeded { sent: true }),
        "{err:?}"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn a_flood_of_403s_trips_the_breaker() {
    let (fake, client) = start(FakeConfig {
        default_limit: 100,
        ..FakeConfig::default()
    })
    .await;
    fake.script(Script {
        method: "POST",
        path_prefix: "/channels/1/messages".into(),
        times: 1000,
        reply: Reply::Status(403),
    });
    for _ in 0..10 {
        let response = post(&client, TOKEN_A, "/channels/1/messages", message("x"), 2)
            .await
            .unwrap();
        assert_eq!(response.status, 403, "403 is an answer the bot should see");
    }
    let err = post(&client, TOKEN_A, "/channels/1/messages", message("x"), 2)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TooManyForbidden { count: 10, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("permissions"), "{err}");
    assert_eq!(fake.requests().len(), 10, "the 11th request was not sent");
    let status = client.token_status(TOKEN_A);
    assert_eq!(status.forbidden_60s, 10);
    assert!(status.paused_for.is_some());
    // Another bot is unaffected.
    let response = get(&client, TOKEN_B, "/channels/1", 2).await.unwrap();
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn server_errors_are_retried_only_for_idempotent_methods() {
    let (fake, client) = start(FakeConfig::default()).await;
    fake.script(Script {
        method: "GET",
        path_prefix: "/channels/1".into(),
        times: 2,
        reply: Reply::Status(502),
    });
    fake.script(Script {
        method: "POST",
        path_prefix: "/channels/1/messages".into(),
        times: 1,
        reply: Reply::Status(500),
    });
    let response = get(&client, TOKEN_A, "/channels/1", 5).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(fake.requests().len(), 3);
    let response = post(&client, TOKEN_A, "/channels/1/messages", message("once"), 5)
        .await
        .unwrap();
    assert_eq!(response.status, 500, "a POST is never repeated");
    assert_eq!(fake.requests().len(), 4);
}

#[tokio::test]
async fn shared_and_cloudflare_429s() {
    let (fake, client) = start(FakeConfig::default()).await;
    // A shared-scope 429 is waited out and retried, and is not the bot's fault.
    fake.script(Script {
        method: "GET",
        path_prefix: "/channels/1".into(),
        times: 1,
        reply: Reply::RateLimited {
            retry_after: 0.2,
            global: false,
            scope: "shared",
        },
    });
    let started = Instant::now();
    let response = get(&client, TOKEN_A, "/channels/1", 5).await.unwrap();
    assert_eq!(response.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    let status = client.token_status(TOKEN_A);
    assert_eq!((status.rate_limited, status.invalid_requests_10min), (1, 0));

    // Cloudflare's text/plain 429 bans the address: every token waits, and
    // nobody sleeps past their deadline.
    fake.script(Script {
        method: "GET",
        path_prefix: "/channels/2".into(),
        times: 1,
        reply: Reply::Cloudflare {
            retry_after_secs: 3600,
        },
    });
    let err = get(&client, TOKEN_A, "/channels/2", 5).await.unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after, .. } if retry_after == Duration::from_secs(3600)),
        "{err:?}"
    );
    let sent = fake.requests().len();
    let started = Instant::now();
    let err = get(&client, TOKEN_B, "/channels/3", 5).await.unwrap_err();
    assert!(matches!(err, Error::RateLimited { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(250));
    assert_eq!(fake.requests().len(), sent, "nothing sent during the ban");
}

#[tokio::test]
async fn guest_paths_are_validated_before_anything_is_sent() {
    let (fake, client) = start(FakeConfig::default()).await;
    for path in [
        "http://evil.example/x",
        "/channels/../../admin",
        "/a b",
        "channels/1",
    ] {
        let err = client
            .request(Auth::Bot(TOKEN_A), Method::GET, path, None, in_secs(2))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::InvalidRequest(_)), "{path}: {err:?}");
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn a_404_right_after_deferral_is_retried_for_webhook_edits_only() {
    // See: https://github.com/discord/discord-api-docs/issues/7220
    let (fake, client) = start(FakeConfig::default()).await;
    let original = "/webhooks/1/interaction-token/messages/@original";
    for method in ["PATCH", "DELETE"] {
        fake.script(Script {
            method,
            path_prefix: original.into(),
            times: 1,
            reply: Reply::Status(404),
        });
    }
    let started = Instant::now();
    let response = client
        .request(
            Auth::Bot(TOKEN_A),
            Method::PATCH,
            original,
            message("late"),
            in_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(500));
    let response = client
        .request(
            Auth::Bot(TOKEN_A),
            Method::DELETE,
            original,
            None,
            in_secs(5),
        )
        .await
        .unwrap();
    assert_eq!(response.status, 404, "a DELETE's 404 is final");
    assert_eq!(fake.requests().len(), 3);
}
