"""Drives Tollgate with the official Anthropic Python SDK, unchanged but for base_url.

Usage: anthropic_sdk.py BASE_URL MODEL
BASE_URL is the gateway's root (the SDK adds /v1/messages). Prints one JSON object with what
the SDK saw.
"""
import json
import sys

import anthropic

base_url, model = sys.argv[1], sys.argv[2]
client = anthropic.Anthropic(base_url=base_url, api_key="sk-client-key", max_retries=0)
tools = [{
    "name": "weather",
    "description": "The forecast for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}]
question = [{"role": "user", "content": "What is the weather in Paris?"}]
out = {}

raw = client.messages.with_raw_response.create(
    model=model, max_tokens=100, system="You are terse.", messages=question, tools=tools
)
first = raw.parse()
out["backend"] = raw.headers.get("x-tollgate-backend")
out["stop_reason"] = first.stop_reason
call = next(b for b in first.content if b.type == "tool_use")
out["tool_name"] = call.name
out["tool_input"] = call.input

turns = question + [
    {"role": "assistant", "content": [b.model_dump() for b in first.content]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18C"}]},
]
second = client.messages.create(model=model, max_tokens=100, messages=turns, tools=tools)
out["answer"] = "".join(b.text for b in second.content if b.type == "text")
out["output_tokens"] = second.usage.output_tokens

with client.messages.stream(model=model, max_tokens=100, messages=question, tools=tools) as s:
    streamed = s.get_final_message()
streamed_call = next(b for b in streamed.content if b.type == "tool_use")
out["streamed_stop_reason"] = streamed.stop_reason
out["streamed_tool_input"] = streamed_call.input
out["streamed_input_tokens"] = streamed.usage.input_tokens

text = []
with client.messages.stream(model=model, max_tokens=100, messages=turns, tools=tools) as s:
    for t in s.text_stream:
        text.append(t)
out["streamed_answer"] = "".join(text)

out["counted"] = client.messages.count_tokens(model=model, messages=question).input_tokens

try:
    client.messages.create(model="no-such-route", max_tokens=10, messages=question)
except anthropic.NotFoundError as e:
    out["not_found"] = [e.status_code, e.body["error"]["type"]]
print(json.dumps(out))
