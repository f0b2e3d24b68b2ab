#!/usr/bin/env python3
"""llama.cpp's own speed on a GGUF file, for comparison with `engine_bench` in the same run.

Uses llama-cpp-python's `Llama` (llama.cpp built from source by pip, for the CPU it was built
on) with the Gemma chat format, greedy. It measures what `engine_bench` measures:

  - prompt processing and time to first token of a fresh prompt of about --prompt tokens
    (a different first word each repetition, the KV cache cleared: nothing is reused);
  - generation speed of one stream (128 tokens after a short prompt);
  - time to first token of a conversation's second turn after a 1,000-token first turn,
    with the first turn's tokens kept in the KV cache (llama.cpp's prefix reuse).

Prints one JSON object. Example:

  python3 tests/bench/reference_speed.py ~/.cache/tollgate/gemma-3-270m-q4_k_m.gguf --threads 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import llama_cpp

WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "data", "model"]
FIRST = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


def gemma(turns: list[tuple[str, str]]) -> str:
    """llama.cpp's built-in gemma template: user/model turns, then the model's opening."""
    out = ""
    for role, text in turns:
        out += f"<start_of_turn>{role}\n{text.strip()}<end_of_turn>\n"
    return out + "<start_of_turn>model\n"


def tokens(llm: llama_cpp.Llama, prompt: str) -> list[int]:
    return llm.tokenize(prompt.encode(), add_bos=True, special=True)


def text_of(llm: llama_cpp.Llama, target: int) -> str:
    text = ""
    best = ""
    i = 0
    while True:
        n = len(tokens(llm, gemma([("user", text)])))
        if n > target:
            return best
        best = text
        if n == target:
            return best
        text = (text + " " if text else "") + WORDS[i % len(WORDS)]
        i += 1


def greedy(llm: llama_cpp.Llama, prompt: list[int], n: int, reuse: bool = False):
    """(seconds to the first token, seconds for all, tokens generated)."""
    if not reuse:
        # Forget the earlier prompt, so no prefix of it is reused.
        llm.reset()
        llm._ctx.kv_cache_clear()  # noqa: SLF001
    t0 = time.perf_counter()
    first = None
    count = 0
    # With reset=True, generate() keeps the longest prefix of the tokens it already holds.
    for tok in llm.generate(prompt, top_k=1, top_p=1.0, temp=0.0, reset=True):
        count += 1
        if first is None:
            first = time.perf_counter() - t0
        if llm.token_eos() == tok or count >= n:
            break
    return first, time.perf_counter() - t0, count


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--prompt", type=int, default=150)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    llm = llama_cpp.Llama(
        model_path=a.model,
        n_ctx=2048,
        n_batch=512,
        n_threads=a.threads,
        n_threads_batch=a.threads,
        verbose=False,
    )
    long = text_of(llm, a.prompt)
    pp, ttft = [], []
    for i in range(a.reps):
        prompt = tokens(llm, gemma([("user", f"{FIRST[i % len(FIRST)]} {long}")]))
        first, _, _ = greedy(llm, prompt, 1)
        ttft.append(first * 1e3)
        pp.append(len(prompt) / first)
    tg = []
    for _ in range(a.reps):
        prompt = tokens(llm, gemma([("user", "Hello there.")]))
        first, total, n = greedy(llm, prompt, 128)
        tg.append((n - 1) / (total - first))

    history = text_of(llm, 1000)
    follow = "Now say the same again, but shorter, and in other words please."
    t1s, t2s = [], []
    for i in range(a.reps):
        opening = f"conversation {i}: {history}"
        turn1 = tokens(llm, gemma([("user", opening)]))
        t1, _, _ = greedy(llm, turn1, 8)
        answer = llm.detokenize(llm._input_ids[len(turn1):].tolist()).decode(errors="replace")  # noqa: SLF001
        turn2 = tokens(llm, gemma([("user", opening), ("model", answer), ("user", follow)]))
        t2, _, _ = greedy(llm, turn2, 2, reuse=True)
        t1s.append(t1 * 1e3)
        t2s.append(t2 * 1e3)
    print(json.dumps({
        "llama_cpp_python": llama_cpp.__version__,
        "threads": a.threads,
        "prompt_tokens": len(tokens(llm, gemma([("user", f"alpha {long}")]))),
        "pp_tok_s": round(statistics.median(pp), 1),
        "ttft_ms": round(statistics.median(ttft), 1),
        "tg128_tok_s": round(statistics.median(tg), 1),
        "first_turn_ttft_ms": round(statistics.median(t1s), 1),
        "second_turn_ttft_ms": round(statistics.median(t2s), 1),
    }))


if __name__ == "__main__":
    main()
