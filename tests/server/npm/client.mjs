// Drives a running `swarmkv serve` with the official `ollama` and `openai` npm clients.
// Usage: node client.mjs SCENARIO PORT MODEL  -> prints one JSON object on stdout.
// Errors thrown by the clients are reported as {"error": message, "status": http_status}.
import { Ollama } from 'ollama';
import OpenAI from 'openai';

const [scenario, port, model] = process.argv.slice(2);
const host = `http://127.0.0.1:${port}`;
// With SWARMKV_TEST_API_KEY set, each client sends it its own way: ollama-js through its
// `headers` option (what Ollama's docs say for a keyed proxy), openai through `apiKey`.
const apiKey = process.env.SWARMKV_TEST_API_KEY;
const ollama = new Ollama(apiKey ? { host, headers: { Authorization: `Bearer ${apiKey}` } } : { host });
const openai = new OpenAI({ baseURL: `${host}/v1`, apiKey: apiKey ?? 'unused', maxRetries: 0, timeout: 120000 });
// A system prompt long enough to fill whole KV blocks, so a repeated request reuses cached KV.
const system = 'You are a storyteller for small children. You tell short, happy stories about animals, ' +
  'friends and families. Every story has a beginning, a middle and an end. You use simple words ' +
  'and short sentences, and every story ends with a small lesson about kindness or sharing.';
const messages = [{ role: 'system', content: system }, { role: 'user', content: 'Once upon a time' }];
// Greedy on both APIs: Ollama's default repeat_penalty (1.1) would otherwise differ from OpenAI's.
const options = { temperature: 0, seed: 42, num_predict: 16, repeat_penalty: 1.0 };

async function ollamaChat(stream) {
  if (!stream) {
    const r = await ollama.chat({ model, messages, options, stream: false });
    return { text: r.message.content, final: r };
  }
  let text = '', final = null, chunks = 0;
  for await (const part of await ollama.chat({ model, messages, options, stream: true })) {
    text += part.message.content;
    chunks++;
    if (part.done) final = part;
  }
  return { text, final, chunks };
}

async function ollamaGenerate(stream) {
  const req = { model, prompt: 'Once upon a time', options, stream };
  if (!stream) {
    const r = await ollama.generate(req);
    return { text: r.response, final: r };
  }
  let text = '', final = null, chunks = 0;
  for await (const part of await ollama.generate(req)) {
    text += part.response;
    chunks++;
    if (part.done) final = part;
  }
  return { text, final, chunks };
}

async function openaiChat(stream) {
  const req = { model, messages, temperature: 0, seed: 42, max_tokens: 16 };
  if (!stream) {
    const r = await openai.chat.completions.create(req);
    return { text: r.choices[0].message.content, final: r };
  }
  let text = '', usage = null, finish = null, chunks = 0;
  const s = await openai.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  for await (const c of s) {
    chunks++;
    if (c.usage) usage = c.usage;
    if (c.choices.length > 0) {
      text += c.choices[0].delta?.content ?? '';
      if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
    }
  }
  return { text, usage, finish, chunks };
}

async function openaiCompletion(stream) {
  const req = { model, prompt: 'Once upon a time', temperature: 0, seed: 42, max_tokens: 16 };
  if (!stream) {
    const r = await openai.completions.create(req);
    return { text: r.choices[0].text, final: r };
  }
  let text = '', chunks = 0;
  for await (const c of await openai.completions.create({ ...req, stream: true })) {
    chunks++;
    text += c.choices[0]?.text ?? '';
  }
  return { text, chunks };
}

const scenarios = {
  'ollama-list': async () => ({ names: (await ollama.list()).models.map((m) => m.name) }),
  'ollama-show': async () => await ollama.show({ model }),
  'ollama-ps': async () => await ollama.ps(),
  'ollama-pull': async () => await ollama.pull({ model, stream: false }),
  'ollama-embed': async () => await ollama.embed({ model, input: 'x' }),
  'ollama-chat': () => ollamaChat(false),
  'ollama-chat-stream': () => ollamaChat(true),
  'ollama-generate': () => ollamaGenerate(false),
  'ollama-generate-stream': () => ollamaGenerate(true),
  'ollama-chat-empty': async () => await ollama.chat({ model, messages: [], stream: false }),
  'openai-models': async () => {
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    return { ids };
  },
  'openai-chat': () => openaiChat(false),
  'openai-chat-stream': () => openaiChat(true),
  'openai-completion': () => openaiCompletion(false),
  'openai-completion-stream': () => openaiCompletion(true),
  // Both clients against a server started with --api-key (the key in SWARMKV_TEST_API_KEY).
  'with-api-key': async () => ({
    names: (await ollama.list()).models.map((m) => m.name),
    ollama: (await ollamaChat(false)).text,
    openai: (await openaiChat(false)).text,
  }),
  // 32 clients at once (half Ollama streaming, half OpenAI), then the same request alone.
  'concurrent': async () => {
    const alone = (await ollamaChat(false)).text;
    const runs = [];
    for (let i = 0; i < 32; i++) runs.push(i % 2 === 0 ? ollamaChat(true) : openaiChat(true));
    const texts = (await Promise.all(runs)).map((r) => r.text);
    return { alone, texts };
  },
};

try {
  const fn = scenarios[scenario];
  if (!fn) throw new Error(`unknown scenario ${scenario}`);
  console.log(JSON.stringify({ ok: true, result: await fn() }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: e.error ?? e.message, status: e.status_code ?? e.status ?? null }));
}
