//! Strategies that rank candidates on what the gateway observed, through the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;
use tollgate_e2e::client::{chat, TestClient};
use tollgate_e2e::config::Config;
use tollgate_e2e::fake_openai::{Behavior, FakeOpenAi};
use tollgate_e2e::gateway::Gateway;

/// `lowest_latency` ranks on time to first byte for whole answers as for streams: a backend
/// that answers at once with a long body is faster than one that thinks before answering.
#[tokio::test]
async fn lowest_latency_ranks_whole_answers_on_their_first_byte() {
    // Head at once, body over ~400 ms.
    let long = FakeOpenAi::start(Behavior::SlowBody {
        pieces: 5,
        gap: Duration::from_millis(100),
    })
    .await;
    // Head after 150 ms, body at once.
    let thinker = FakeOpenAi::start(Behavior::Answer {
        reply: "short".into(),
        stream_usage: true,
        head_delay: Duration::from_millis(150),
        event_gap: Duration::ZERO,
    })
    .await;
    let toml = Config::new()
        .backend("long", "local", &long.base_url(), &[("m", "Apache-2.0")])
        .backend(
            "thinker",
            "local",
            &thinker.base_url(),
            &[("m", "Apache-2.0")],
        )
        .route_with(
            "fast",
            &["thinker/m", "long/m"],
            "strategy = \"lowest_latency\"",
        )
        .build();
    let gw = Gateway::start(&toml);
    let c = TestClient::new();
    let url = gw.url("/v1/chat/completions");
    // What each backend is like, observed through pinned requests.
    for _ in 0..3 {
        for pinned in ["long/m", "thinker/m"] {
            let r = c.post_json(&url, &[], &chat(pinned, "hi", false)).await;
            assert_eq!(r.status, 200, "{pinned}");
        }
    }
    for _ in 0..3 {
        let r = c.post_json(&url, &[], &chat("fast", "hi", false)).await;
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("x-tollgate-backend"),
            Some("long"),
            "ranked on its whole body, the thinker would look faster"
        );
    }
}
