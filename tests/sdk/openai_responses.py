"""Drives Tollgate's Responses API with the official OpenAI Python SDK, unchanged but for
base_url: a function call and its result, whole and streamed, and a refused stateful call.

Usage: openai_responses.py BASE_URL MODEL
Prints one JSON object with what the SDK saw.
"""
import json
import sys

import openai

base_url, model = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key="sk-client-key", max_retries=0)
tools = [{
    "type": "function",
    "name": "weather",
    "description": "The forecast for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}]
question = [{"role": "user", "content": "What is the weather in Paris?"}]
out = {}

first = client.responses.create(model=model, instructions="You are terse.", input=question, tools=tools, store=False)
call = next(item for item in first.output if item.type == "function_call")
out["status"] = first.status
out["tool_name"] = call.name
out["tool_arguments"] = json.loads(call.arguments)

turns = question + [
    {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
    {"type": "function_call_output", "call_id": call.call_id, "output": "18C"},
]
second = client.responses.create(model=model, input=turns, tools=tools, store=False)
out["answer"] = second.output_text
out["output_tokens"] = second.usage.output_tokens

deltas, arguments, completed = [], [], None
for event in client.responses.create(model=model, input=question, tools=tools, stream=True, store=False):
    if event.type == "response.function_call_arguments.delta":
        arguments.append(event.delta)
    if event.type == "response.completed":
        completed = event.response
out["streamed_arguments"] = json.loads("".join(arguments))
out["streamed_status"] = completed.status

for event in client.responses.create(model=model, input=turns, tools=tools, stream=True, store=False):
    if event.type == "response.output_text.delta":
        deltas.append(event.delta)
    if event.type == "response.completed":
        completed = event.response
out["streamed_answer"] = "".join(deltas)
out["streamed_output_text"] = completed.output_text
out["streamed_total_tokens"] = completed.usage.total_tokens

try:
    client.responses.create(model=model, input="again", previous_response_id=first.id)
except openai.BadRequestError as e:
    out["stateful"] = [e.status_code, e.param]
print(json.dumps(out))
