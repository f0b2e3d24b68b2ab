// Drives Tollgate with the official OpenAI Node SDK, unchanged but for baseURL.
// Usage: node openai_sdk.mjs BASE_URL ROUTE CUT_MODEL  (prints one JSON object)
import OpenAI from "openai";

const [baseURL, route, cutModel] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "sk-client-key", maxRetries: 0 });
const messages = [{ role: "user", content: "say hello" }];
const out = {};

const { data: completion, response } = await client.chat.completions
  .create({ model: route, messages })
  .withResponse();
out.content = completion.choices[0].message.content;
out.prompt_tokens = completion.usage.prompt_tokens;
out.backend = response.headers.get("x-tollgate-backend");

const parts = [];
let usage = null;
const stream = await client.chat.completions.create({
  model: route,
  messages,
  stream: true,
  stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  if (chunk.choices.length) parts.push(chunk.choices[0].delta.content ?? "");
  if (chunk.usage) usage = chunk.usage.completion_tokens;
}
out.streamed = parts.join("");
out.streamed_completion_tokens = usage;

try {
  const s = await client.chat.completions.create({ model: cutModel, messages, stream: true });
  for await (const _ of s) {
  }
  out.cut = "no error";
} catch (e) {
  out.cut = String(e.message);
}
console.log(JSON.stringify(out));
