"""Drives a route over closed vendors with the official OpenAI Python SDK, unchanged but for
base_url: tool calls round-tripped whole and streamed, with usage.

Usage: openai_vendors.py BASE_URL ROUTE
Prints one JSON object with what the SDK saw.
"""
import json
import sys

import openai

base_url, route = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key="sk-client-key", max_retries=0)
tools = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}]
question = [{"role": "system", "content": "You answer briefly."},
            {"role": "user", "content": "What is the weather in Oslo?"}]
out = {}

raw = client.chat.completions.with_raw_response.create(model=route, messages=question, tools=tools)
first = raw.parse()
call = first.choices[0].message.tool_calls[0]
out["backend"] = raw.headers.get("x-tollgate-backend")
out["finish_reason"] = first.choices[0].finish_reason
out["tool"] = call.function.name
out["arguments"] = json.loads(call.function.arguments)
answer = client.chat.completions.create(model=route, tools=tools, messages=question + [
    {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
    {"role": "tool", "tool_call_id": call.id, "content": "12C and rain"},
])
out["answer"] = answer.choices[0].message.content
out["prompt_tokens"] = answer.usage.prompt_tokens

name, args, finish, usage = None, "", None, None
stream = client.chat.completions.create(
    model=route, messages=question, tools=tools, stream=True, stream_options={"include_usage": True})
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        finish = choice.finish_reason or finish
        for tc in choice.delta.tool_calls or []:
            name = tc.function.name or name
            args += tc.function.arguments or ""
out["streamed_tool"] = name
out["streamed_arguments"] = json.loads(args)
out["streamed_finish_reason"] = finish
out["streamed_prompt_tokens"] = usage.prompt_tokens if usage else None
print(json.dumps(out))
