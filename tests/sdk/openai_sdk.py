"""Drives Tollgate with the official OpenAI Python SDK, unchanged but for base_url.

Usage: openai_sdk.py BASE_URL ROUTE CUT_MODEL
Prints one JSON object with what the SDK saw.
"""
import json
import sys

import openai

base_url, route, cut_model = sys.argv[1], sys.argv[2], sys.argv[3]
client = openai.OpenAI(base_url=base_url, api_key="sk-client-key", max_retries=0)
messages = [{"role": "user", "content": "say hello"}]
out = {}

raw = client.chat.completions.with_raw_response.create(model=route, messages=messages)
completion = raw.parse()
out["content"] = completion.choices[0].message.content
out["finish_reason"] = completion.choices[0].finish_reason
out["prompt_tokens"] = completion.usage.prompt_tokens
out["backend"] = raw.headers.get("x-tollgate-backend")

parts, usage = [], None
for chunk in client.chat.completions.create(
    model=route, messages=messages, stream=True, stream_options={"include_usage": True}
):
    if chunk.choices:
        parts.append(chunk.choices[0].delta.content or "")
    if chunk.usage:
        usage = chunk.usage.completion_tokens
out["streamed"] = "".join(parts)
out["streamed_completion_tokens"] = usage

try:
    client.chat.completions.create(model="no-such-route", messages=messages)
except openai.NotFoundError as e:
    out["not_found"] = e.status_code

try:
    for _ in client.chat.completions.create(model=cut_model, messages=messages, stream=True):
        pass
    out["cut"] = "no error"
except openai.APIError as e:
    out["cut"] = str(e)

models = client.models.list()
out["models"] = [m.id for m in models.data]
print(json.dumps(out))
