// One streamed chat completion with the openai SDK, as OpenClaw's openai-completions provider makes it.
// Env: BASE_URL (the provider baseUrl), API_KEY, PROMPT. Prints one JSON line per chunk, or the error.
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY, maxRetries: 0 });
const started = Date.now();
try {
  const stream = await client.chat.completions.create({
    model: "kimi-k2.5",
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: "user", content: process.env.PROMPT || "hello" }],
  });
  for await (const chunk of stream) {
    const delta = chunk.choices?.[0]?.delta ?? {};
    console.log(JSON.stringify({ at: Date.now() - started, content: delta.content ?? null, usage: chunk.usage ?? null }));
  }
} catch (err) {
  console.log(JSON.stringify({ error: { status: err.status ?? null, message: err.message } }));
}
