// Drives a running `swarmkv serve` with the clients agent frameworks use: tools, structured output,
// tool loops. Usage: node agents.mjs SCENARIO PORT MODEL -> prints one JSON object on stdout.
// The tiny test models cannot choose to call a tool, so loops force the call with tool_choice
// "required" (constrained decoding makes it a call that parses and validates) and then let the
// model answer freely; what is asserted is the protocol, not the tiny model's prose.
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';

const [scenario, port, model] = process.argv.slice(2);
const host = `http://127.0.0.1:${port}`;
const openai = new OpenAI({ baseURL: `${host}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 120000 });

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather of a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 12 }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['city', 'unit'],
      additionalProperties: false,
    },
  },
};
// The local function the loops call.
const getWeather = ({ city, unit }) => `It is sunny and 21 degrees ${unit} in ${city}.`;
const ask = 'What is the weather in Paris?';

// Ollama's fetch, with fields added to every JSON body (ChatOllama has no tool_choice option).
function fetchAdding(extra) {
  return (url, init) => {
    if (init?.body && typeof init.body === 'string') {
      const body = JSON.parse(init.body);
      init = { ...init, body: JSON.stringify({ ...body, ...extra(body) }) };
    }
    return fetch(url, init);
  };
}

const scenarios = {
  // openai: a forced call, its result, the answer; then the same call streamed and assembled by the SDK.
  'openai-tools': async () => {
    const messages = [{ role: 'user', content: ask }];
    const first = await openai.chat.completions.create({
      model, messages, tools: [weatherTool], tool_choice: 'required', temperature: 0, max_tokens: 80,
    });
    const call = first.choices[0].message.tool_calls[0];
    const args = JSON.parse(call.function.arguments);
    messages.push(first.choices[0].message);
    messages.push({ role: 'tool', tool_call_id: call.id, content: getWeather(args) });
    const answer = await openai.chat.completions.create({ model, messages, tools: [weatherTool], temperature: 0, max_tokens: 16 });
    const stream = openai.beta.chat.completions.stream({
      model, messages: [{ role: 'user', content: ask }], tools: [weatherTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } }, temperature: 0, max_tokens: 80,
    });
    let contentDeltas = '';
    stream.on('content', (d) => { contentDeltas += d; });
    const streamed = await stream.finalChatCompletion();
    return {
      finish_reason: first.choices[0].finish_reason, call, args,
      answer_finish: answer.choices[0].finish_reason, answer_prompt_tokens: answer.usage.prompt_tokens,
      first_prompt_tokens: first.usage.prompt_tokens,
      streamed_call: streamed.choices[0].message.tool_calls[0], streamed_finish: streamed.choices[0].finish_reason,
      content_deltas: contentDeltas,
    };
  },
  // openai: the zod response_format helper parses and validates the reply.
  'openai-zod': async () => {
    const Person = z.object({ name: z.string().max(16), age: z.number().int(), pets: z.array(z.enum(['cat', 'dog'])).max(3) });
    const r = await openai.beta.chat.completions.parse({
      model, messages: [{ role: 'user', content: 'Describe a person.' }], response_format: zodResponseFormat(Person, 'person'),
      temperature: 0, max_tokens: 120,
    });
    const lp = await openai.chat.completions.create({
      model, messages: [{ role: 'user', content: 'Hi' }], logprobs: true, top_logprobs: 3, max_tokens: 4, temperature: 0,
    });
    const n = await openai.chat.completions.create({
      model, messages: [{ role: 'user', content: 'Tell me a story about a cat and a dog who were friends.' }], n: 3,
      max_tokens: 6, temperature: 1, seed: 5,
    });
    return { parsed: r.choices[0].message.parsed, logprobs: lp.choices[0].logprobs, n_choices: n.choices, n_usage: n.usage };
  },
  // ollama: tools (with the tool_choice extension), a tool turn, and format.
  'ollama-tools': async () => {
    const ollama = new Ollama({ host });
    const messages = [{ role: 'user', content: ask }];
    const first = await ollama.chat({
      model, messages, tools: [weatherTool], tool_choice: 'required', stream: false, options: { temperature: 0, num_predict: 80 },
    });
    const call = first.message.tool_calls[0];
    messages.push(first.message);
    messages.push({ role: 'tool', tool_name: call.function.name, content: getWeather(call.function.arguments) });
    const answer = await ollama.chat({ model, messages, tools: [weatherTool], stream: false, options: { temperature: 0, num_predict: 8 } });
    let streamedCalls = [];
    for await (const part of await ollama.chat({
      model, messages: [{ role: 'user', content: ask }], tools: [weatherTool], tool_choice: 'required', stream: true,
      options: { temperature: 0, num_predict: 80 },
    })) {
      if (part.message.tool_calls) streamedCalls = streamedCalls.concat(part.message.tool_calls);
    }
    const schema = { type: 'object', properties: { title: { type: 'string', maxLength: 20 }, done: { type: 'boolean' } }, required: ['title', 'done'] };
    const formatted = await ollama.chat({
      model, messages: [{ role: 'user', content: 'A task' }], format: schema, stream: false, options: { temperature: 0.7, seed: 3, num_predict: 60 },
    });
    const json = await ollama.generate({ model, prompt: 'JSON:', format: 'json', stream: false, options: { temperature: 0, num_predict: 40 } });
    // (format "json" allows any object: a tiny model's keys run long, so only its start is checked.)
    return { call, answer: answer.message, streamed_calls: streamedCalls, formatted: JSON.parse(formatted.message.content), json: json.response };
  },
  // LangChain + OpenAI: bindTools, a forced call, the local function through the tool, the answer.
  'langchain-openai': async () => {
    const { ChatOpenAI } = await import('@langchain/openai');
    const { tool } = await import('@langchain/core/tools');
    const { HumanMessage } = await import('@langchain/core/messages');
    const calls = [];
    const weather = tool(async (args) => { calls.push(args); return getWeather(args); }, {
      name: 'get_weather', description: 'The current weather of a city',
      schema: z.object({ city: z.string().max(12), unit: z.enum(['celsius', 'fahrenheit']) }),
    });
    const llm = new ChatOpenAI({ model, apiKey: 'unused', temperature: 0, maxTokens: 80, configuration: { baseURL: `${host}/v1` } });
    const messages = [new HumanMessage(ask)];
    const ai = await llm.bindTools([weather], { tool_choice: 'required' }).invoke(messages);
    messages.push(ai);
    for (const tc of ai.tool_calls) messages.push(await weather.invoke(tc));
    const final = await llm.bindTools([weather]).invoke(messages);
    return { tool_calls: ai.tool_calls, executed: calls, tool_message: messages[2].content, final: final.content,
             final_usage: final.usage_metadata, first_usage: ai.usage_metadata };
  },
  // LangChain + Ollama: the same loop through ChatOllama (streaming under the hood).
  'langchain-ollama': async () => {
    const { ChatOllama } = await import('@langchain/ollama');
    const { tool } = await import('@langchain/core/tools');
    const { HumanMessage } = await import('@langchain/core/messages');
    const calls = [];
    const weather = tool(async (args) => { calls.push(args); return getWeather(args); }, {
      name: 'get_weather', description: 'The current weather of a city',
      schema: z.object({ city: z.string().max(12), unit: z.enum(['celsius', 'fahrenheit']) }),
    });
    const llm = new ChatOllama({ model, baseUrl: host, temperature: 0, numPredict: 80 });
    // Force the first call: ChatOllama cannot send tool_choice, so the harness adds it.
    let forced = 0;
    llm.client = new Ollama({ host, fetch: fetchAdding((b) => (b.tools && forced++ === 0 ? { tool_choice: 'required' } : {})) });
    const messages = [new HumanMessage(ask)];
    const ai = await llm.bindTools([weather]).invoke(messages);
    messages.push(ai);
    for (const tc of ai.tool_calls) messages.push(await weather.invoke(tc));
    const final = await llm.bindTools([weather]).invoke(messages);
    return { tool_calls: ai.tool_calls, executed: calls, final: final.content };
  },
  // OpenAI Agents SDK: a triage agent hands off to a weather agent, which calls its tool.
  'openai-agents': async () => {
    const { Agent, run, tool, setTracingDisabled } = await import('@openai/agents');
    const { OpenAIChatCompletionsModel } = await import('@openai/agents-openai');
    setTracingDisabled(true);
    const m = new OpenAIChatCompletionsModel(openai, model);
    const calls = [];
    const weather = tool({
      name: 'get_weather', description: 'The current weather of a city',
      parameters: z.object({ city: z.string().max(12), unit: z.enum(['celsius', 'fahrenheit']) }),
      execute: async (args) => { calls.push(args); return getWeather(args); },
    });
    const settings = { toolChoice: 'required', temperature: 0, maxTokens: 160 };
    const weatherAgent = new Agent({ name: 'Weather agent', instructions: 'Answer weather questions with the tool.', model: m, tools: [weather], modelSettings: settings });
    const triage = new Agent({ name: 'Triage', instructions: 'Hand weather questions to the weather agent.', model: m, handoffs: [weatherAgent], modelSettings: settings });
    const result = await run(triage, ask, { maxTurns: 6 });
    return { executed: calls, last_agent: result.lastAgent.name, final_output: result.finalOutput,
             items: result.newItems.map((i) => i.type) };
  },
  // Vercel AI SDK: generateObject over an OpenAI-compatible provider (a forced "json" tool call).
  'ai-generate-object': async () => {
    const { generateObject } = await import('ai');
    const { createOpenAICompatible } = await import('@ai-sdk/openai-compatible');
    const provider = createOpenAICompatible({ name: 'swarmkv', baseURL: `${host}/v1`, apiKey: 'unused' });
    const schema = z.object({ recipe: z.object({ name: z.string().max(20), steps: z.array(z.string().max(12)).min(1).max(2) }) });
    const r = await generateObject({ model: provider.chatModel(model), schema, prompt: 'A recipe for soup', temperature: 0, maxTokens: 400 });
    return { object: r.object, finish: r.finishReason };
  },
};

try {
  const fn = scenarios[scenario];
  if (!fn) throw new Error(`unknown scenario ${scenario}`);
  console.log(JSON.stringify({ ok: true, result: await fn() }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e.error?.message ?? e.error ?? e.message), status: e.status_code ?? e.status ?? null, stack: String(e.stack).slice(0, 800) }));
}
