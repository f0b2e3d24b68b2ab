// Drives Tollgate's Responses API with the official OpenAI Node SDK, unchanged but for baseURL.
// Usage: node openai_responses.mjs BASE_URL MODEL
// Prints one JSON object with what the SDK saw.
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "sk-client-key", maxRetries: 0 });
const tools = [{
  type: "function",
  name: "weather",
  description: "The forecast for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
}];
const question = [{ role: "user", content: "What is the weather in Paris?" }];
const out = {};

const first = await client.responses.create({ model, instructions: "You are terse.", input: question, tools, store: false });
const call = first.output.find((i) => i.type === "function_call");
out.status = first.status;
out.tool_name = call.name;
out.tool_arguments = JSON.parse(call.arguments);

const turns = [
  ...question,
  { type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments },
  { type: "function_call_output", call_id: call.call_id, output: "18C" },
];
const second = await client.responses.create({ model, input: turns, tools, store: false });
out.answer = second.output_text;
out.output_tokens = second.usage.output_tokens;

let args = "";
let completed;
for await (const e of await client.responses.create({ model, input: question, tools, stream: true, store: false })) {
  if (e.type === "response.function_call_arguments.delta") args += e.delta;
  if (e.type === "response.completed") completed = e.response;
}
out.streamed_arguments = JSON.parse(args);
out.streamed_status = completed.status;

let text = "";
for await (const e of await client.responses.create({ model, input: turns, tools, stream: true, store: false })) {
  if (e.type === "response.output_text.delta") text += e.delta;
  if (e.type === "response.completed") completed = e.response;
}
out.streamed_answer = text;
// The Node SDK adds `output_text` to whole responses only: read the completed items.
out.streamed_output_text = completed.output
  .filter((i) => i.type === "message")
  .flatMap((i) => i.content)
  .filter((c) => c.type === "output_text")
  .map((c) => c.text)
  .join("");
out.streamed_total_tokens = completed.usage.total_tokens;

try {
  await client.responses.create({ model, input: "again", previous_response_id: first.id });
} catch (e) {
  out.stateful = [e.status, e.param];
}
console.log(JSON.stringify(out));
