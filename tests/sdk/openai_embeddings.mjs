// Drives Tollgate's embeddings with the official OpenAI Node SDK, unchanged but for baseURL.
// Usage: node openai_embeddings.mjs BASE_URL MODEL
// Prints one JSON object with what the SDK saw.
import OpenAI from "openai";

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: "sk-client-key", maxRetries: 0 });
const out = {};
let r = await client.embeddings.create({ model, input: ["first text", "the second text"] });
out.count = r.data.length;
out.first = Array.from(r.data[0].embedding).slice(0, 3);
out.prompt_tokens = r.usage.prompt_tokens;
r = await client.embeddings.create({ model, input: "one more", encoding_format: "float", dimensions: 5 });
out.dimensions = r.data[0].embedding.length;
console.log(JSON.stringify(out));
