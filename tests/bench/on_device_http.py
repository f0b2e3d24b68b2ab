"""Prompt and generation speed of an on-device model through Tollgate's HTTP API.

Usage: on_device_http.py BASE_URL MODEL [--runs 3] [--max-tokens 32] [--streams 1]
Prints, per run, prompt tokens/s (prompt tokens over time to first token), generation tokens/s
(completion tokens after the first over the time between the first and last token) and, with
--streams N, the aggregate generation rate of N concurrent streams.
"""
import argparse
import statistics
import threading
import time

import openai

p = argparse.ArgumentParser()
p.add_argument("base_url")
p.add_argument("model")
p.add_argument("--runs", type=int, default=3)
p.add_argument("--max-tokens", type=int, default=32)
p.add_argument("--streams", type=int, default=1)
a = p.parse_args()
client = openai.OpenAI(base_url=a.base_url, api_key="x", max_retries=0, timeout=600)
# About 128 tokens of the generated vocabulary: common words.
prompt = " ".join(["the gateway routes every request to a model"] * 15)


def one(out):
    t0 = time.perf_counter()
    first = last = None
    usage = None
    for ch in client.chat.completions.create(
        model=a.model,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=a.max_tokens,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    ):
        now = time.perf_counter()
        if ch.choices and ch.choices[0].delta.content:
            first = first or now
            last = now
        if ch.usage:
            usage = ch.usage
    out.append((t0, first, last, usage))


for run in range(a.runs):
    results = []
    threads = [threading.Thread(target=one, args=(results,)) for _ in range(a.streams)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = time.perf_counter()
    if a.streams == 1:
        t0, first, last, u = results[0]
        ttft = first - t0
        gen = (u.completion_tokens - 1) / (last - first) if last > first else float("nan")
        print(
            f"run {run}: prompt {u.prompt_tokens} tok, TTFT {ttft:.3f} s, "
            f"pp {u.prompt_tokens / ttft:.1f} tok/s, tg {gen:.2f} tok/s ({u.completion_tokens} tokens)"
        )
    else:
        total = sum(r[3].completion_tokens for r in results)
        print(f"run {run}: {a.streams} streams, {total} tokens in {end - start:.2f} s: {total / (end - start):.2f} tok/s aggregate")
