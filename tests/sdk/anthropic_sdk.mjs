// Drives Tollgate with the official Anthropic Node SDK, unchanged but for baseURL.
// Usage: node anthropic_sdk.mjs BASE_URL MODEL   (BASE_URL is the gateway's root)
// Prints one JSON object with what the SDK saw.
import Anthropic from "@anthropic-ai/sdk";

const [baseURL, model] = process.argv.slice(2);
const client = new Anthropic({ baseURL, apiKey: "sk-client-key", maxRetries: 0 });
const tools = [{
  name: "weather",
  description: "The forecast for a city",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
}];
const question = [{ role: "user", content: "What is the weather in Paris?" }];
const out = {};

const { data: first, response } = await client.messages
  .create({ model, max_tokens: 100, system: "You are terse.", messages: question, tools })
  .withResponse();
out.backend = response.headers.get("x-tollgate-backend");
out.stop_reason = first.stop_reason;
const call = first.content.find((b) => b.type === "tool_use");
out.tool_name = call.name;
out.tool_input = call.input;

const turns = [
  ...question,
  { role: "assistant", content: first.content },
  { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "18C" }] },
];
const second = await client.messages.create({ model, max_tokens: 100, messages: turns, tools });
out.answer = second.content.filter((b) => b.type === "text").map((b) => b.text).join("");
out.output_tokens = second.usage.output_tokens;

const streamed = await client.messages.stream({ model, max_tokens: 100, messages: question, tools }).finalMessage();
out.streamed_stop_reason = streamed.stop_reason;
out.streamed_tool_input = streamed.content.find((b) => b.type === "tool_use").input;
out.streamed_input_tokens = streamed.usage.input_tokens;

let text = "";
const s = client.messages.stream({ model, max_tokens: 100, messages: turns, tools });
s.on("text", (t) => { text += t; });
await s.finalMessage();
out.streamed_answer = text;

out.counted = (await client.messages.countTokens({ model, messages: question })).input_tokens;

try {
  await client.messages.create({ model: "no-such-route", max_tokens: 10, messages: question });
} catch (e) {
  out.not_found = [e.status, e.error?.error?.type];
}
console.log(JSON.stringify(out));
