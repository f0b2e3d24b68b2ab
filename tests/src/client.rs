//! A small HTTP client for tests, over real sockets, that keeps stream chunks as they arrive.

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A whole response.
#[derive(Debug)]
pub struct Response {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// Body chunks as they arrived, with the time since the request was sent.
    pub chunks: Vec<(Duration, Bytes)>,
}

impl Response {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `data:` payloads of an SSE body, in order.
    pub fn sse_data(&self) -> Vec<String> {
        let text = String::from_utf8_lossy(&self.body).replace("\r\n", "\n");
        text.split("\n\n")
            .filter_map(|event| {
                let data: Vec<&str> = event
                    .lines()
                    .filter_map(|l| {
                        l.strip_prefix("data:")
                            .map(|d| d.strip_prefix(' ').unwrap_or(d))
                    })
                    .collect();
                (!data.is_empty()).then(|| data.join("\n"))
            })
            .collect()
    }

    /// The named events of an SSE body (`event:` line, JSON `data:`), as the Messages and
    /// Responses APIs stream them; an event without a name or with non-JSON data fails.
    pub fn sse_events(&self) -> Vec<(String, Value)> {
        let text = String::from_utf8_lossy(&self.body).replace("\r\n", "\n");
        text.split("\n\n")
            .filter(|e| !e.trim().is_empty())
            .map(|event| {
                let name = event
                    .lines()
                    .find_map(|l| l.strip_prefix("event: "))
                    .unwrap_or_else(|| panic!("an event without a name: {event}"));
                let data = event
                    .lines()
                    .find_map(|l| l.strip_prefix("data: "))
                    .unwrap_or_else(|| panic!("an event without data: {event}"));
                let data = serde_json::from_str(data)
                    .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {data}"));
                (name.to_string(), data)
            })
            .collect()
    }

    /// The concatenated `delta.content` of an SSE chat stream.
    pub fn streamed_content(&self) -> String {
        self.sse_data()
            .iter()
            .filter(|d| *d != "[DONE]")
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .filter_map(|v| {
                v["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_string)
            })
            .collect()
    }

    /// The `usage` of an SSE chat stream's usage chunk, if it has one.
    pub fn streamed_usage(&self) -> Option<Value> {
        self.sse_data()
            .iter()
            .filter(|d| *d != "[DONE]")
            .filter_map(|d| serde_json::from_str::<Value>(d).ok())
            .find_map(|v| v.get("usage").filter(|u| u.is_object()).cloned())
    }

    /// The assistant's answer: the streamed deltas joined, or the whole answer's message.
    pub fn answer(&self, stream: bool) -> String {
        if stream {
            self.streamed_content()
        } else {
            self.json()["choices"][0]["message"]["content"]
                .as_str()
                .expect("a chat completion with message content")
                .to_string()
        }
    }
}

/// A keep-alive HTTP/1.1 client.
#[derive(Clone)]
pub struct TestClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

impl Default for TestClient {
    fn default() -> Self {
        Self::new()
    }
}

impl TestClient {
    /// A new client with its own connection pool.
    pub fn new() -> Self {
        TestClient {
            inner: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// A client that speaks HTTP/2 with prior knowledge (h2c), as gRPC-style clients do.
    pub fn h2c() -> Self {
        TestClient {
            inner: Client::builder(TokioExecutor::new())
                .http2_only(true)
                .build_http(),
        }
    }

    /// Sends a request and reads the whole response, chunk by chunk.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Response {
        let mut req = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body.into())).expect("request");
        let started = Instant::now();
        let resp = self.inner.request(req).await.expect("send request");
        let (parts, mut body) = resp.into_parts();
        let mut chunks = Vec::new();
        let mut all = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    if let Ok(data) = f.into_data() {
                        all.extend_from_slice(&data);
                        chunks.push((started.elapsed(), data));
                    }
                }
                Err(e) => panic!("response body failed: {e}"),
            }
        }
        Response {
            status: parts.status,
            headers: parts.headers,
            body: Bytes::from(all),
            chunks,
        }
    }

    /// POSTs JSON.
    pub async fn post_json(&self, url: &str, headers: &[(&str, &str)], body: &Value) -> Response {
        let mut h = vec![("content-type", "application/json")];
        h.extend_from_slice(headers);
        self.send("POST", url, &h, body.to_string()).await
    }

    /// GETs a URL.
    pub async fn get(&self, url: &str, headers: &[(&str, &str)]) -> Response {
        self.send("GET", url, headers, Bytes::new()).await
    }
}

/// A chat request body for `model` with one user message.
pub fn chat(model: &str, text: &str, stream: bool) -> Value {
    serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "stream": stream,
    })
}
