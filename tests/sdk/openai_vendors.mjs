// Drives a route over closed vendors with the official OpenAI Node SDK, unchanged but for
// baseURL: tool calls round-tripped whole and streamed, with usage.
//
// Usage: node openai_vendors.mjs BASE_URL ROUTE
// Prints one JSON object with what the SDK saw.
import OpenAI from "openai";

const [baseURL, route] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "sk-client-key", maxRetries: 0 });
const tools = [{
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city.",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
}];
const question = [
  { role: "system", content: "You answer briefly." },
  { role: "user", content: "What is the weather in Oslo?" },
];
const out = {};

const { data: first, response } = await client.chat.completions
  .create({ model: route, messages: question, tools })
  .withResponse();
const call = first.choices[0].message.tool_calls[0];
out.backend = response.headers.get("x-tollgate-backend");
out.finish_reason = first.choices[0].finish_reason;
out.tool = call.function.name;
out.arguments = JSON.parse(call.function.arguments);
const answer = await client.chat.completions.create({
  model: route,
  tools,
  messages: [
    ...question,
    { role: "assistant", content: null, tool_calls: [call] },
    { role: "tool", tool_call_id: call.id, content: "12C and rain" },
  ],
});
out.answer = answer.choices[0].message.content;
out.prompt_tokens = answer.usage.prompt_tokens;

let name = null, args = "", finish = null, usage = null;
const stream = await client.chat.completions.create({
  model: route, messages: question, tools, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  if (chunk.usage) usage = chunk.usage;
  for (const choice of chunk.choices) {
    finish = choice.finish_reason ?? finish;
    for (const tc of choice.delta.tool_calls ?? []) {
      name = tc.function?.name ?? name;
      args += tc.function?.arguments ?? "";
    }
  }
}
out.streamed_tool = name;
out.streamed_arguments = JSON.parse(args);
out.streamed_finish_reason = finish;
out.streamed_prompt_tokens = usage ? usage.prompt_tokens : null;
console.log(JSON.stringify(out));
