// @anthropic-ai/sdk against the proxy (fake CLI behind it): node anthropic_sdk.mjs BASE_URL
// Prints ONE JSON line: {case: {ok, ..., error?}} for every case below. Cases run in parallel;
// each has its own deadline, so a case the proxy cannot serve fails instead of hanging.
import Anthropic from '@anthropic-ai/sdk';
import { betaTool } from '@anthropic-ai/sdk/helpers/beta/json-schema';
import { runCases } from './cases.mjs';

const baseURL = process.argv[2];
const MODEL = 'claude-sonnet-4-5';
const client = new Anthropic({ baseURL, apiKey: 'dummy', maxRetries: 0, timeout: 15000 });
const WEATHER = {
  name: 'get_weather',
  description: 'Current weather of a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const CALL = 'FAKE:call=get_weather{"city":"Paris"}';

const textOf = (message) => message.content.filter((b) => b.type === 'text').map((b) => b.text).join('');

async function toolRunner(thread) {
  if (typeof client.beta?.messages?.toolRunner !== 'function') return { missing: true };
  const runs = [];
  const tool = betaTool({
    name: 'get_weather', description: 'Current weather of a city',
    inputSchema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    run: async (input) => { runs.push(input); return 'Sunny, 21C'; },
  });
  const params = { model: MODEL, max_tokens: 256, max_iterations: 4, tools: [tool],
                   messages: [{ role: 'user', content: `${CALL} ${thread === false ? 'unthreaded' : 'threaded'}` }] };
  if (thread !== undefined) params.thread = thread;
  const runner = client.beta.messages.toolRunner(params, { timeout: 10000 });
  const final = await runner.runUntilDone();
  return { final_text: textOf(final), final_stop: final.stop_reason, tool_runs: runs };
}

const cases = {
  async stream() {
    const stream = client.messages.stream({
      model: MODEL, max_tokens: 256, messages: [{ role: 'user', content: 'Hello stream' }],
    });
    let deltas = '';
    stream.on('text', (t) => { deltas += t; });
    const final = await stream.finalMessage();
    return { text: deltas, final_text: textOf(final), stop_reason: final.stop_reason, model: final.model };
  },

  async tool_loop() {
    const messages = [{ role: 'user', content: CALL }];
    const first = await client.messages.create({ model: MODEL, max_tokens: 256, tools: [WEATHER], messages });
    const uses = first.content.filter((b) => b.type === 'tool_use');
    messages.push({ role: 'assistant', content: first.content });
    messages.push({
      role: 'user',
      content: uses.map((u) => ({ type: 'tool_result', tool_use_id: u.id, content: 'Sunny, 21C' })),
    });
    const second = await client.messages.create({ model: MODEL, max_tokens: 256, tools: [WEATHER], messages });
    return {
      first_stop: first.stop_reason, tool_uses: uses.map((u) => ({ name: u.name, input: u.input })),
      final_text: textOf(second), final_stop: second.stop_reason,
    };
  },

  async stop_sequences() {
    const message = await client.messages.create({
      model: MODEL, max_tokens: 256, stop_sequences: ['STOP'],
      messages: [{ role: 'user', content: 'alpha beta STOP gamma' }],
    });
    return { text: textOf(message), stop_reason: message.stop_reason, stop_sequence: message.stop_sequence };
  },

  // The runner's default: a server-held thread (thread: create, then continue with only the
  // tool_result); and the classic loop that resends the whole history (thread: false).
  tool_runner: () => toolRunner(undefined),
  tool_runner_unthreaded: () => toolRunner(false),
};

const out = await runCases(cases);
out.sdk_version = (await import('@anthropic-ai/sdk/version')).VERSION;
console.log(JSON.stringify(out));
