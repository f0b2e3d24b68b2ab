#!/usr/bin/env python3
"""Measures how exactly the gateway's ledger counts tokens for a local OpenAI-compatible server.

Opt-in: it needs a running llama.cpp server (llama-cpp-python's; `scripts/real-local-server.sh
start PORT`) and a gateway with a route to it. For each of N prompts, made deterministically
from a seed (short and long, several languages and scripts, some multi-turn, some with a system
message, a few containing chat-template markers literally, a few ending on a `stop` string or
made to end by themselves with a `logit_bias` on <eos>; temperature 0, max_tokens 8..64):

  1. the request is sent non-streamed DIRECTLY to the server: its `usage` is the model's own
     count (prompt_tokens, completion_tokens);
  2. the same request is sent streamed, with stream_options.include_usage, THROUGH the gateway:
     the usage chunk the client got (if any), the served text and `x-tollgate-request-id` are
     kept;
  3. after all requests, the ledger's `requests` rows are read by request id and their
     prompt_tokens / completion_tokens are compared with the model's own counts.

All direct calls are made first, in order, then all gateway calls in the same order, each pass
after the same warm-up request: llama.cpp's server reuses the KV cache of the previous prompt's
common prefix, and a prompt evaluated in one batch can give slightly different logits than one
replayed after a cache hit, so the same request right after itself may not reproduce its text
(a server started with batch size 1, `scripts/real-local-server.sh`'s default, is deterministic
anyway). When the gateway's served text still differs from the direct answer, the request is
sent directly once more; if that reproduces the gateway's text its usage is the reference, else
the reference is the served text tokenized by the server (`/extras/tokenize`, BOS removed; an
end-of-generation token is not counted by the server, a matched stop string's tokens are).
Such requests are counted in `completion_reference_retokenized`; that reference is approximate,
since the model can generate a segmentation the tokenizer would not produce (" subtree" +
"model" where " subtreemodel" tokenizes as 4 tokens).

Summary fields: `rows` ledger rows found; `exact_prompt`, `exact_completion`, `exact_both` rows
equal to the model's counts; `within_1` rows with both counts off by at most one;
`usage_chunk_received` streams in which the client got a usage chunk (`usage_chunk_exact`: with
the model's counts); `text_matches_direct` gateway answers identical to the direct ones;
`worst_mismatches` the ten rows furthest off.

Prints one JSON summary on stdout (progress on stderr). Only the Python standard library is
used.

Example:
  python3 tests/token_exactness.py --gateway http://127.0.0.1:8000 --api-key k \\
      --model local-gemma --server http://127.0.0.1:8081 --ledger /tmp/tg/ledger.db -n 200
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sqlite3
import sys
import time
import urllib.parse
from dataclasses import dataclass, field


# ---------------------------------------------------------------------------------------------
# HTTP


def _root(url: str) -> str:
    """The URL without a trailing slash or `/v1`."""
    url = url.rstrip("/")
    return url[: -len("/v1")] if url.endswith("/v1") else url


class Http:
    """A keep-alive HTTP/1.1 client for one origin."""

    def __init__(self, base: str, api_key: str | None = None, timeout: float = 300.0):
        u = urllib.parse.urlsplit(_root(base))
        if u.scheme not in ("http", "https"):
            raise SystemExit(f"not an http(s) URL: {base}")
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        self.prefix = u.path
        self.api_key = api_key
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self.conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            self.conn = cls(self.host, self.port, timeout=self.timeout)
        return self.conn

    def _headers(self) -> dict:
        h = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        if self.api_key:
            h["authorization"] = f"Bearer {self.api_key}"
        return h

    def request(self, method: str, path: str, body=None):
        """Returns (status, headers, response) with the response still unread."""
        data = None if body is None else json.dumps(body).encode()
        for attempt in (0, 1):
            conn = self._connect()
            try:
                conn.request(method, self.prefix + path, body=data, headers=self._headers())
                resp = conn.getresponse()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body=None):
        status, headers, resp = self.request(method, path, body)
        raw = resp.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = {"_raw": raw.decode(errors="replace")}
        return status, headers, parsed

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def read_sse(resp) -> list:
    """The JSON events of an event stream, up to `[DONE]` (error events included)."""
    events, data_lines = [], []
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.decode("utf-8", errors="replace").rstrip("\r\n")
        if line == "":
            if data_lines:
                payload = "\n".join(data_lines)
                data_lines = []
                if payload.strip() == "[DONE]":
                    break
                try:
                    events.append(json.loads(payload))
                except ValueError:
                    events.append({"_unparsed": payload})
            continue
        if line.startswith("data:"):
            data_lines.append(line[5:].lstrip(" "))
    # Drain what remains so the connection can be reused.
    resp.read()
    return events


# ---------------------------------------------------------------------------------------------
# Prompts

TOPICS = [
    "the water cycle", "how a bicycle gear works", "why the sky is blue", "the history of tea",
    "binary search", "photosynthesis", "a good night's sleep", "the rules of chess",
    "compound interest", "how vaccines train the immune system", "the Roman aqueducts",
    "TCP versus UDP", "baking sourdough bread", "the phases of the moon", "recycling plastic",
    "what a hash table is", "volcanoes", "learning a second language", "the printing press",
    "electric cars", "honeybees", "the speed of light", "writing a haiku", "public libraries",
]

TEMPLATES_EN = [
    "Explain {t} in one sentence.",
    "Write two short sentences about {t}.",
    "Give me three facts about {t}.",
    "What is the most surprising thing about {t}? Answer briefly.",
    "Summarise {t} for a ten-year-old.",
    "List four keywords related to {t}, separated by commas.",
    "{t}?",
]

FOREIGN = [
    "Erkläre kurz, wie ein Kühlschrank funktioniert.",
    "Was ist der Unterschied zwischen Wetter und Klima? Antworte in einem Satz.",
    "Explique en une phrase pourquoi les feuilles changent de couleur en automne.",
    "Écris un court poème sur la mer, s'il te plaît.",
    "¿Cuál es la capital de Australia y por qué no es Sídney?",
    "Dame tres consejos para ahorrar energía en casa.",
    "Spiega in breve che cos'è la fotosintesi.",
    "Wat is het verschil tussen een meer en een zee?",
    "Explique o que é um buraco negro em duas frases.",
    "Объясни, почему небо голубое, в одном предложении.",
    "Напиши короткое стихотворение о зиме.",
    "日本の首都はどこですか？簡単に答えてください。",
    "富士山について短く説明してください。",
    "请用一句话解释什么是人工智能。",
    "给我三个学习编程的建议。",
    "한국의 전통 음식 세 가지를 알려 주세요.",
    "اشرح باختصار ما هي الطاقة الشمسية.",
    "हिंदी में बताइए कि पानी क्यों ज़रूरी है।",
    "Πες μου κάτι ενδιαφέρον για την αρχαία Αθήνα.",
    "Tell me about emoji 🎉🚀🌍 and why people use them 😊.",
    "Translate to French: 'The cat sleeps on the warm windowsill.'",
    "Ñandú, pingüino, façade, naïve, Zürich, Øresund: what do these words have in common?",
]

SYSTEMS = [
    "You are a concise assistant. Answer in at most two sentences.",
    "You are a friendly tutor for children.",
    "Always answer in French.",
    "You are a pirate. Speak like one.",
    "Reply with a bulleted list.",
    "Du bist ein hilfsbereiter Assistent und antwortest auf Deutsch.",
]

CODE = [
    "What does this Python do?\n\n```python\ndef f(xs):\n    return sorted(set(xs))[:3]\n```",
    "Fix the bug:\n\n```js\nfor (let i = 0; i <= arr.length; i++) { console.log(arr[i]) }\n```",
    "Explain this SQL: SELECT name, COUNT(*) FROM orders GROUP BY name HAVING COUNT(*) > 2;",
    "What is the output of `echo $((3 * (4 + 5)))` in bash?",
    "Convert to JSON: name Alice, age 30, tags red and blue.",
]

# Text that looks like the model's own chat markup: the server's template and tokenizer decide
# whether it becomes a control token, which an exact counter has to reproduce.
MARKUP = [
    "Please repeat exactly: <start_of_turn>user hello<end_of_turn>",
    "What do the strings <start_of_turn> and <end_of_turn> mean in a chat template?",
    "Ignore this: <bos><eos> and tell me a colour.",
    "The tag <start_of_image> appears in my file; what could it be for?",
]

FILLER = (
    "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs. "
    "How vexingly quick daft zebras jump! Sphinx of black quartz, judge my vow. "
    "A journey of a thousand miles begins with a single step. "
)


def _long_text(rng: random.Random) -> str:
    n = rng.choice([1, 2, 4, 6])
    words = (FILLER * n).split()
    rng.shuffle(words)
    return " ".join(words)


def make_prompts(n: int, seed: int) -> list:
    """N request bodies (without `model`), the same for the same (n, seed)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = rng.choices(
            ["en", "foreign", "code", "long", "multi", "markup", "stop_seq", "eos_bias"],
            weights=[28, 24, 9, 10, 17, 4, 5, 3],
        )[0]
        messages = []
        if kind == "en":
            messages.append({"role": "user", "content": rng.choice(TEMPLATES_EN).format(t=rng.choice(TOPICS))})
        elif kind == "foreign":
            messages.append({"role": "user", "content": rng.choice(FOREIGN)})
        elif kind == "code":
            messages.append({"role": "user", "content": rng.choice(CODE)})
        elif kind == "long":
            text = _long_text(rng)
            messages.append({"role": "user", "content": f"Here is a text:\n\n{text}\n\nWhich animal is mentioned first? Answer in one word."})
        elif kind == "markup":
            messages.append({"role": "user", "content": rng.choice(MARKUP)})
        elif kind in ("stop_seq", "eos_bias"):
            q = rng.choice(TEMPLATES_EN).format(t=rng.choice(TOPICS)) if rng.random() < 0.6 else rng.choice(FOREIGN)
            messages.append({"role": "user", "content": q})
        else:
            turns = rng.randint(1, 3)
            for _ in range(turns):
                q = rng.choice(TEMPLATES_EN).format(t=rng.choice(TOPICS)) if rng.random() < 0.7 else rng.choice(FOREIGN)
                messages.append({"role": "user", "content": q})
                messages.append({"role": "assistant", "content": rng.choice([
                    "Sure. " + rng.choice(FILLER.split(". ")).strip() + ".",
                    "I think so, yes.",
                    "Here is a short answer: it depends on the context.",
                    "Bien sûr ! C'est une bonne question.",
                    "了解しました。",
                ])})
            messages.append({"role": "user", "content": rng.choice(["Thanks. And one more thing: why?", "Can you say that more briefly?", rng.choice(TEMPLATES_EN).format(t=rng.choice(TOPICS))])})
        if rng.random() < 0.3:
            messages.insert(0, {"role": "system", "content": rng.choice(SYSTEMS)})
        body = {
            "messages": messages,
            "temperature": 0,
            "max_tokens": rng.randint(8, 64),
            "_kind": kind,
            "_index": i,
        }
        if kind == "stop_seq":
            # Ends on a stop string: the server counts the tokens that matched it, the text
            # has none of it.
            body["stop"] = [rng.choice(["\n", "user", "."])]
        elif kind == "eos_bias":
            # Makes the model end by itself (<eos>, id 1 in Gemma's vocabulary): the server
            # does not count the end-of-generation token.
            body["logit_bias"] = {"1": 6}
        out.append(body)
    return out


# ---------------------------------------------------------------------------------------------
# Measurement


@dataclass
class Case:
    index: int
    kind: str
    body: dict
    direct_prompt: int | None = None
    direct_completion: int | None = None
    direct_text: str | None = None
    direct_finish: str | None = None
    gw_status: int | None = None
    gw_request_id: str | None = None
    gw_text: str = ""
    gw_finish: str | None = None
    gw_usage: dict | None = None
    gw_error: str | None = None
    completion_ref: int | None = None
    retokenized: bool = False
    ledger: dict | None = None
    notes: list = field(default_factory=list)


def wire_body(case: Case, model: str) -> dict:
    b = {k: v for k, v in case.body.items() if not k.startswith("_")}
    b["model"] = model
    return b


def direct_call(server: Http, case: Case, model: str):
    status, _, resp = server.json("POST", "/v1/chat/completions", wire_body(case, model))
    if status != 200 or not isinstance(resp, dict) or "usage" not in resp:
        case.notes.append(f"direct call failed: {status} {str(resp)[:200]}")
        return
    usage = resp.get("usage") or {}
    case.direct_prompt = usage.get("prompt_tokens")
    case.direct_completion = usage.get("completion_tokens")
    choice = (resp.get("choices") or [{}])[0]
    case.direct_text = (choice.get("message") or {}).get("content") or ""
    case.direct_finish = choice.get("finish_reason")


def stream_call(client: Http, body: dict):
    """(status, headers, text, finish_reason, usage, error) of a streamed call."""
    body = dict(body, stream=True, stream_options={"include_usage": True})
    status, headers, resp = client.request("POST", "/v1/chat/completions", body)
    if status != 200:
        raw = resp.read().decode(errors="replace")
        return status, headers, "", None, None, raw[:300]
    text, finish, usage, error = [], None, None, None
    for ev in read_sse(resp):
        if "error" in ev:
            error = json.dumps(ev["error"])[:300]
            continue
        if ev.get("usage"):
            usage = ev["usage"]
        for ch in ev.get("choices") or []:
            delta = ch.get("delta") or {}
            if delta.get("content"):
                text.append(delta["content"])
            if ch.get("finish_reason"):
                finish = ch["finish_reason"]
    return status, headers, "".join(text), finish, usage, error


def tokenize(server: Http, text: str, model: str) -> list | None:
    """The server's tokens for TEXT (`/extras/tokenize`: it always adds BOS and parses special
    tokens such as `<start_of_turn>`)."""
    status, _, resp = server.json("POST", "/extras/tokenize", {"input": text, "model": model})
    if status == 200 and isinstance(resp, dict) and isinstance(resp.get("tokens"), list):
        return resp["tokens"]
    return None


def tokenize_count(server: Http, text: str, model: str) -> int | None:
    """The server's token count for TEXT without the BOS it adds."""
    bos = tokenize(server, "", model)
    toks = tokenize(server, text, model)
    if toks is None:
        return None
    if bos and toks[: len(bos)] == bos:
        toks = toks[len(bos):]
    return len(toks)


def gateway_call(gateway: Http, case: Case, gw_model: str):
    status, headers, text, finish, usage, error = stream_call(gateway, wire_body(case, gw_model))
    case.gw_status = status
    case.gw_request_id = headers.get("x-tollgate-request-id")
    case.gw_text, case.gw_finish, case.gw_usage, case.gw_error = text, finish, usage, error
    if status != 200:
        case.notes.append(f"gateway status {status}: {error}")
    elif case.direct_text is not None and text == case.direct_text:
        case.completion_ref = case.direct_completion


def settle_reference(server: Http, case: Case, server_model: str):
    """A completion reference for a case whose gateway text differs from the direct answer."""
    if case.gw_status != 200 or case.completion_ref is not None or case.direct_text is None:
        return
    case.notes.append("gateway text differs from the direct answer")
    again = Case(index=case.index, kind=case.kind, body=case.body)
    direct_call(server, again, server_model)
    if again.direct_text == case.gw_text:
        case.completion_ref = again.direct_completion
        case.notes.append("reproduced by a second direct call")
        return
    n = tokenize_count(server, case.gw_text, server_model)
    if n is not None:
        if case.gw_finish == "stop" and case.body.get("stop"):
            # The stop string's token was generated and counted, then cut from the text.
            n += 1
        case.completion_ref = n
        case.retokenized = True


def read_ledger(path: str, ids: list, wait_s: float) -> tuple[dict, list]:
    """Ledger rows by request id, waiting up to WAIT_S for the writer to catch up."""
    deadline = time.monotonic() + wait_s
    rows: dict = {}
    cols: list = []
    while True:
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
            try:
                cols = [r[1] for r in db.execute("PRAGMA table_info(requests)")]
                want = [c for c in ("request_id", "prompt_tokens", "completion_tokens", "estimated", "token_source", "outcome", "backend", "model") if c in cols]
                q = f"SELECT {', '.join(want)} FROM requests WHERE request_id = ?"
                for rid in ids:
                    if rid in rows:
                        continue
                    r = db.execute(q, (rid,)).fetchone()
                    if r is not None:
                        rows[rid] = dict(zip(want, r))
            finally:
                db.close()
        except sqlite3.Error as e:
            print(f"ledger: {e}", file=sys.stderr)
        if len(rows) == len(ids) or time.monotonic() >= deadline:
            return rows, cols
        time.sleep(0.5)


def server_model_name(server: Http) -> str:
    status, _, resp = server.json("GET", "/v1/models")
    if status == 200 and isinstance(resp, dict) and resp.get("data"):
        return resp["data"][0]["id"]
    raise SystemExit(f"the server at /v1/models answered {status}: {resp}")


def summarise(cases: list, ledger_cols: list) -> dict:
    def diff(a, b):
        return None if a is None or b is None else a - b

    rows = [c for c in cases if c.ledger is not None]
    exact_p = exact_c = exact_b = within1 = 0
    mismatches = []
    sources: dict = {}
    abs_p = abs_c = 0
    n_p = n_c = 0
    for c in rows:
        lp, lc = c.ledger.get("prompt_tokens"), c.ledger.get("completion_tokens")
        dp, dc = diff(lp, c.direct_prompt), diff(lc, c.completion_ref)
        src = c.ledger.get("token_source") or ("estimate" if c.ledger.get("estimated") else "provider")
        sources[src] = sources.get(src, 0) + 1
        if dp is not None:
            n_p += 1
            abs_p += abs(dp)
        if dc is not None:
            n_c += 1
            abs_c += abs(dc)
        exact_p += dp == 0
        exact_c += dc == 0
        exact_b += dp == 0 and dc == 0
        within1 += dp is not None and dc is not None and abs(dp) <= 1 and abs(dc) <= 1
        if dp != 0 or dc != 0:
            mismatches.append({
                "index": c.index,
                "kind": c.kind,
                "request_id": c.gw_request_id,
                "ledger": {"prompt": lp, "completion": lc, "source": src},
                "model": {"prompt": c.direct_prompt, "completion": c.completion_ref},
                "diff": {"prompt": dp, "completion": dc},
                "finish_reason": c.gw_finish,
                "last_message": c.body["messages"][-1]["content"][:80],
                "notes": c.notes,
            })
    mismatches.sort(key=lambda m: -(abs(m["diff"]["prompt"] or 0) + abs(m["diff"]["completion"] or 0)))
    usage_chunks = [c for c in cases if c.gw_usage]
    return {
        "requests": len(cases),
        "gateway_ok": sum(c.gw_status == 200 for c in cases),
        "direct_ok": sum(c.direct_prompt is not None for c in cases),
        "rows": len(rows),
        "exact_prompt": exact_p,
        "exact_completion": exact_c,
        "exact_both": exact_b,
        "within_1": within1,
        "mean_abs_prompt_error": round(abs_p / n_p, 2) if n_p else None,
        "mean_abs_completion_error": round(abs_c / n_c, 2) if n_c else None,
        "totals": {
            "ledger_prompt": sum(c.ledger.get("prompt_tokens") or 0 for c in rows),
            "model_prompt": sum(c.direct_prompt or 0 for c in rows),
            "ledger_completion": sum(c.ledger.get("completion_tokens") or 0 for c in rows),
            "model_completion": sum(c.completion_ref or 0 for c in rows),
        },
        "usage_chunk_received": len(usage_chunks),
        "usage_chunk_exact": sum(
            c.gw_usage.get("prompt_tokens") == c.direct_prompt and c.gw_usage.get("completion_tokens") == c.completion_ref
            for c in usage_chunks
        ),
        "text_matches_direct": sum(c.direct_text is not None and c.gw_text == c.direct_text for c in cases),
        "completion_reference_retokenized": sum(c.retokenized for c in cases),
        "finish_reasons": {r: sum(c.gw_finish == r for c in cases) for r in sorted({str(c.gw_finish) for c in cases})},
        "token_sources": sources,
        "by_kind": {
            k: {
                "rows": sum(c.kind == k for c in rows),
                "exact_prompt": sum(c.kind == k and c.ledger.get("prompt_tokens") == c.direct_prompt for c in rows),
                "exact_completion": sum(c.kind == k and c.ledger.get("completion_tokens") == c.completion_ref for c in rows),
            }
            for k in sorted({c.kind for c in cases})
        },
        "ledger_has_token_source": "token_source" in ledger_cols,
        "worst_mismatches": mismatches[:10],
        "gateway_errors": [{"index": c.index, "notes": c.notes} for c in cases if c.gw_status != 200][:10],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gateway", required=True, help="gateway URL, e.g. http://127.0.0.1:8000")
    ap.add_argument("--api-key", default="", help="tenant key for the gateway")
    ap.add_argument("--model", required=True, help="route or BACKEND/MODEL the gateway serves the server's model under")
    ap.add_argument("--server", required=True, help="the llama.cpp server's URL, e.g. http://127.0.0.1:8081")
    ap.add_argument("--server-model", default=None, help="model name for direct calls (default: the first of its /v1/models)")
    ap.add_argument("--ledger", required=True, help="the gateway's SQLite ledger file")
    ap.add_argument("-n", type=int, default=200, help="number of prompts (default 200)")
    ap.add_argument("--seed", type=int, default=14, help="seed of the prompt set (default 14)")
    ap.add_argument("--ledger-wait", type=float, default=15.0, help="seconds to wait for ledger rows")
    ap.add_argument("--cases-out", default=None, help="write every case as JSON lines to this file")
    args = ap.parse_args(argv)

    server = Http(args.server)
    gateway = Http(args.gateway, api_key=args.api_key or None)
    server_model = args.server_model or server_model_name(server)
    cases = [Case(index=p["_index"], kind=p["_kind"], body=p) for p in make_prompts(args.n, args.seed)]

    warm_up = {"messages": [{"role": "user", "content": "Warm-up: say nothing."}], "temperature": 0, "max_tokens": 1}

    t0 = time.monotonic()

    def progress(label, i):
        if (i + 1) % 20 == 0 or i + 1 == len(cases):
            print(f"{label} {i + 1}/{len(cases)} ({time.monotonic() - t0:.0f}s)", file=sys.stderr)

    server.json("POST", "/v1/chat/completions", dict(warm_up, model=server_model))
    for i, case in enumerate(cases):
        direct_call(server, case, server_model)
        progress("direct", i)
    server.json("POST", "/v1/chat/completions", dict(warm_up, model=server_model))
    for i, case in enumerate(cases):
        gateway_call(gateway, case, args.model)
        progress("gateway", i)
    for case in cases:
        settle_reference(server, case, server_model)

    ids = [c.gw_request_id for c in cases if c.gw_request_id]
    rows, cols = read_ledger(args.ledger, ids, args.ledger_wait)
    for c in cases:
        if c.gw_request_id in rows:
            c.ledger = rows[c.gw_request_id]

    if args.cases_out:
        with open(args.cases_out, "w", encoding="utf-8") as f:
            for c in cases:
                f.write(json.dumps({
                    "index": c.index, "kind": c.kind, "body": wire_body(c, args.model),
                    "direct": {"prompt": c.direct_prompt, "completion": c.direct_completion, "finish": c.direct_finish, "text": c.direct_text},
                    "gateway": {"status": c.gw_status, "request_id": c.gw_request_id, "finish": c.gw_finish, "usage": c.gw_usage, "text": c.gw_text},
                    "completion_ref": c.completion_ref, "ledger": c.ledger, "notes": c.notes,
                }, ensure_ascii=False) + "\n")

    summary = summarise(cases, cols)
    summary["server_model"] = server_model
    summary["seconds"] = round(time.monotonic() - t0, 1)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
