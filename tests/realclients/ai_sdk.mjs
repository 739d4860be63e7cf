// The Vercel AI SDK (ai + @ai-sdk/anthropic, what OpenCode uses inside) against the proxy:
// node ai_sdk.mjs BASE_URL   (BASE_URL without /v1; the provider gets BASE_URL/v1)
// Prints ONE JSON line: {case: {ok, ..., error?}}. Cases run in parallel, each with a deadline.
import { generateText, streamText, tool, jsonSchema, stepCountIs, Output } from 'ai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { runCases } from './cases.mjs';

const anthropic = createAnthropic({ baseURL: `${process.argv[2]}/v1`, apiKey: 'dummy' });
const model = anthropic('claude-sonnet-4-5');
const common = { model, maxRetries: 0 };
const deadline = () => AbortSignal.timeout(15000);

const cases = {
  async generate_text() {
    const r = await generateText({ ...common, prompt: 'Hello generate', abortSignal: deadline() });
    return { text: r.text, finish: r.finishReason };
  },

  async stream_text() {
    const r = streamText({ ...common, prompt: 'Hello streaming', abortSignal: deadline() });
    let text = '';
    for await (const part of r.textStream) text += part;
    return { text, finish: await r.finishReason };
  },

  async tool_loop() {
    const runs = [];
    const r = await generateText({
      ...common, abortSignal: deadline(), stopWhen: stepCountIs(4),
      prompt: 'FAKE:call=get_weather{"city":"Paris"}',
      tools: {
        get_weather: tool({
          description: 'Current weather of a city',
          inputSchema: jsonSchema({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }),
          execute: async (input) => { runs.push(input); return 'Sunny, 21C'; },
        }),
      },
    });
    return {
      text: r.text, finish: r.finishReason, steps: r.steps.length, tool_runs: runs,
      step_finishes: r.steps.map((s) => s.finishReason),
    };
  },

  async stop_sequences() {
    const r = await generateText({
      ...common, abortSignal: deadline(), stopSequences: ['STOP'], prompt: 'alpha beta STOP gamma',
    });
    return { text: r.text, finish: r.finishReason, raw_finish: r.rawFinishReason ?? null };
  },

  // Recorded for the README (what structured output sends); the fake CLI answers in prose.
  async structured_output() {
    const r = await generateText({
      ...common, abortSignal: deadline(), prompt: 'Give me a city',
      output: Output.object({ schema: jsonSchema({ type: 'object', properties: { city: { type: 'string' } }, required: ['city'] }) }),
    });
    return { text: r.text };
  },
};

const out = await runCases(cases);
console.log(JSON.stringify(out));
