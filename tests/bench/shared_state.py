#!/usr/bin/env python3
"""What shared budgets and rate limits add to a request: p50/p90 latency of sequential
non-streamed chat completions through the gateway, with the same budget and rate limit kept
in memory (one process) and in a real Redis on loopback ([cluster] redis_url), measured in
alternating rounds in one run against a local fake upstream.

    python3 tests/bench/shared_state.py --binary target/release/tollgate [--requests 2000]
        [--limits both|budget|rate]
"""
import argparse, http.client, http.server, json, os, re, shutil, socket, statistics, subprocess
import sys, tempfile, threading, time

ANSWER = json.dumps({
    "id": "c1", "object": "chat.completion", "created": 0, "model": "m1",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}).encode()


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per answer, sent at once: no delayed-ACK stalls in the measurement.
    wbufsize = 65536
    disable_nagle_algorithm = True

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)
        self.wfile.flush()

    def log_message(self, *a):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


BUDGET = """[budgets.routes.chat]
daily_usd = 1000000
"""
RATE = """[rate_limits.routes.chat]
requests_per_minute = 100000000
tokens_per_minute = 100000000000
concurrent_requests = 1000
"""


def config(upstream, cluster, limits):
    return f"""
[server]
listen = "127.0.0.1:0"
threads = 1
[ledger]
path = "ledger.db"
{cluster}
[prices.models."paid/m1"]
input_per_mtok = 1.0
output_per_mtok = 2.0
{limits}
[backends.paid]
kind = "openai"
zone = "external"
base_url = "http://127.0.0.1:{upstream}/v1"
models = {{ m1 = {{ licence = "Apache-2.0" }} }}
[routes.chat]
candidates = ["paid/m1"]
"""


def start(binary, cfg):
    d = tempfile.mkdtemp()
    path = os.path.join(d, "tollgate.toml")
    open(path, "w").write(cfg)
    p = subprocess.Popen([binary, "serve", "--config", path], cwd=d, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    for line in p.stdout:
        if line.startswith("tollgate listening on"):
            port = int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))
            return p, port, d
    raise SystemExit("gateway did not start")


def measure(port, n):
    body = json.dumps({"model": "chat", "max_tokens": 16,
                       "messages": [{"role": "user", "content": "hello"}]}).encode()
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
           b"content-length: %d\r\n\r\n" % len(body)) + body
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        s.sendall(req)  # one packet per request
        r = http.client.HTTPResponse(s)
        r.begin()
        r.read()
        assert r.status == 200, r.status
        out.append((time.perf_counter() - t) * 1000)
    s.close()
    return out


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--binary", default="target/release/tollgate")
    a.add_argument("--requests", type=int, default=2000)
    a.add_argument("--rounds", type=int, default=4)
    a.add_argument("--limits", choices=["both", "budget", "rate"], default="both",
                   help="what the route is limited by: a budget, rate limits, or both")
    args = a.parse_args()
    limits = {"both": BUDGET + RATE, "budget": BUDGET, "rate": RATE}[args.limits]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    up = srv.server_address[1]
    rport = free_port()
    rdir = tempfile.mkdtemp()
    redis = subprocess.Popen(["redis-server", "--port", str(rport), "--save", "", "--dir", rdir],
                             stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    gws = {
        "in memory": start(args.binary, config(up, "", limits)),
        "redis": start(args.binary,
                       config(up, f'[cluster]\nredis_url = "redis://127.0.0.1:{rport}/"', limits)),
    }
    try:
        for _, port, _ in gws.values():
            measure(port, 200)  # warm up
        lat = {k: [] for k in gws}
        for _ in range(args.rounds):
            for k, (_, port, _) in gws.items():
                lat[k] += measure(port, args.requests // args.rounds)
        for k, v in lat.items():
            v.sort()
            print(f"{k:10} p50 {statistics.median(v):.3f} ms  p90 {v[int(len(v) * 0.9)]:.3f} ms  n={len(v)}")
        print(f"added by redis: p50 {statistics.median(lat['redis']) - statistics.median(lat['in memory']):.3f} ms")
    finally:
        for p, _, d in gws.values():
            p.terminate()
            p.wait()
            shutil.rmtree(d, ignore_errors=True)
        redis.kill()
        shutil.rmtree(rdir, ignore_errors=True)


if __name__ == "__main__":
    main()
