"""Drives Tollgate's embeddings with the official OpenAI Python SDK, unchanged but for base_url.

Usage: openai_embeddings.py BASE_URL MODEL
Prints one JSON object with what the SDK saw.
"""
import json
import sys

import openai

base_url, model = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key="sk-client-key", max_retries=0)
out = {}
# The SDK asks for base64 by default and decodes it; float is asked for explicitly here too.
r = client.embeddings.create(model=model, input=["first text", "the second text"])
out["count"] = len(r.data)
out["first"] = r.data[0].embedding[:3]
out["prompt_tokens"] = r.usage.prompt_tokens
r = client.embeddings.create(model=model, input="one more", encoding_format="float", dimensions=5)
out["dimensions"] = len(r.data[0].embedding)
print(json.dumps(out))
