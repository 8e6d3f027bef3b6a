// needle-serve through the official OpenAI SDK for JavaScript, the client most
// users have. Run by tests/python/test_openai_sdk.py against a live server:
//   NEEDLE_SERVE_URL=http://127.0.0.1:PORT/v1 node sdk_test.mjs
// Prints one line per check and exits 1 when one fails.
import assert from "node:assert/strict";
import OpenAI from "openai";

const client = new OpenAI({ baseURL: process.env.NEEDLE_SERVE_URL, apiKey: "unused", maxRetries: 0 });

// camelCase names: the model sees get_weather, the caller must only ever see getWeather.
const tools = [
  {
    type: "function",
    function: {
      name: "getWeather",
      description: "Get the current weather for a city",
      parameters: {
        type: "object",
        properties: { location: { type: "string", description: "city name" } },
        required: ["location"],
      },
    },
  },
  {
    type: "function",
    function: {
      name: "setTimer",
      description: "Start a countdown timer",
      parameters: {
        type: "object",
        properties: { minutes: { type: "integer", description: "length in minutes" } },
        required: ["minutes"],
      },
    },
  },
];
const toolNames = tools.map((tool) => tool.function.name);
const ask = (content) => [{ role: "user", content }];
const weather = ask("What's the weather like in San Francisco right now?");

function assertCalls(message) {
  assert.ok(message.tool_calls?.length > 0, `expected tool_calls, got ${JSON.stringify(message)}`);
  assert.equal(message.content, null, "a call comes without content");
  for (const call of message.tool_calls) {
    assert.match(call.id, /^call_/);
    assert.equal(call.type, "function");
    assert.ok(toolNames.includes(call.function.name), `unknown tool name ${call.function.name}`);
    const args = JSON.parse(call.function.arguments);
    assert.equal(typeof args, "object");
  }
}

function assertNoCall(choice) {
  assert.equal(choice.message.tool_calls ?? undefined, undefined);
  assert.equal(choice.message.content, null);
  assert.equal(choice.finish_reason, "stop");
}

async function expectBadRequest(params, param) {
  await assert.rejects(client.chat.completions.create(params), (error) => {
    assert.ok(error instanceof OpenAI.BadRequestError, `expected a 400, got ${error}`);
    assert.equal(error.param, param);
    return true;
  });
}

const checks = {
  async "non-streamed required call: tool_calls with the caller's names"() {
    const response = await client.chat.completions.create({
      model: "needle", messages: weather, tools, tool_choice: "required",
    });
    assert.equal(response.object, "chat.completion");
    assert.equal(response.choices[0].finish_reason, "tool_calls");
    assertCalls(response.choices[0].message);
  },

  async "streamed call: OpenAI's tool_calls deltas, finalChatCompletion without raw JSON content"() {
    const params = { model: "needle", messages: weather, tools, tool_choice: "required" };
    const stream = client.chat.completions.stream(params);
    const namesByIndex = new Map();
    let argumentFragments = 0;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta ?? {};
      assert.ok(delta.content == null || delta.content === "", `content streamed: ${JSON.stringify(delta)}`);
      for (const call of delta.tool_calls ?? []) {
        assert.equal(typeof call.index, "number");
        if (call.function?.name !== undefined) {
          assert.ok(!namesByIndex.has(call.index), "a call's name is sent once");
          assert.match(call.id, /^call_/);
          assert.equal(call.type, "function");
          assert.ok(toolNames.includes(call.function.name), `streamed name ${call.function.name}`);
          namesByIndex.set(call.index, call.function.name);
        } else {
          assert.ok(namesByIndex.has(call.index), "arguments come after the name");
          assert.equal(call.id, undefined);
          argumentFragments += 1;
        }
      }
    }
    assert.ok(namesByIndex.size > 0, "no call streamed");
    assert.ok(argumentFragments > 1, `arguments came in ${argumentFragments} fragment(s)`);
    const final = await stream.finalChatCompletion();
    assertCalls(final.choices[0].message);
    assert.equal(final.choices[0].finish_reason, "tool_calls");

    // The same request unstreamed gives the same calls.
    const whole = await client.chat.completions.create(params);
    const calls = (message) =>
      message.tool_calls.map((call) => [call.function.name, JSON.parse(call.function.arguments)]);
    assert.deepEqual(calls(final.choices[0].message), calls(whole.choices[0].message));
  },

  async "streamed with include_usage: a usage chunk"() {
    const stream = await client.chat.completions.create({
      model: "needle", messages: weather, tools, stream: true, stream_options: { include_usage: true },
    });
    let usage = null;
    for await (const chunk of stream) usage = chunk.usage ?? usage;
    assert.ok(usage.prompt_tokens > 0 && usage.completion_tokens > 0, JSON.stringify(usage));
  },

  async "tool_choice auto: calls, or the no-call answer"() {
    const response = await client.chat.completions.create({ model: "needle", messages: weather, tools });
    const choice = response.choices[0];
    if (choice.finish_reason === "tool_calls") assertCalls(choice.message);
    else assertNoCall(choice);
  },

  async "tool_choice naming a function: that function is called"() {
    const response = await client.chat.completions.create({
      model: "needle", messages: ask("remind me in 10 minutes"), tools,
      tool_choice: { type: "function", function: { name: "setTimer" } },
    });
    assertCalls(response.choices[0].message);
    assert.deepEqual(response.choices[0].message.tool_calls.map((call) => call.function.name), ["setTimer"]);
  },

  async "tool_choice none: the no-call answer, streamed or not"() {
    const params = { model: "needle", messages: weather, tools, tool_choice: "none" };
    assertNoCall((await client.chat.completions.create(params)).choices[0]);
    const final = await client.chat.completions.stream(params).finalChatCompletion();
    assertNoCall(final.choices[0]);
  },

  async "no tools: the no-call answer"() {
    assertNoCall((await client.chat.completions.create({ model: "needle", messages: weather })).choices[0]);
  },

  async "a conversation ending in a tool result: the no-call answer, not a fresh call"() {
    const messages = [
      ...weather,
      {
        role: "assistant", content: null,
        tool_calls: [{ id: "call_1", type: "function",
                       function: { name: "getWeather", arguments: '{"location":"San Francisco"}' } }],
      },
      { role: "tool", tool_call_id: "call_1", content: '{"temperature_c":17}' },
    ];
    assertNoCall((await client.chat.completions.create({ model: "needle", messages, tools })).choices[0]);
  },

  async "legacy functions and sampling it cannot honour: 400 naming the field"() {
    await expectBadRequest({ model: "needle", messages: weather, functions: [tools[0].function] }, "functions");
    await expectBadRequest({ model: "needle", messages: weather, tools, temperature: 0.7 }, "temperature");
    // Values that ask for no more than greedy decoding are accepted.
    const greedy = await client.chat.completions.create({
      model: "needle", messages: weather, tools, temperature: 0, top_p: 1, seed: 3, tool_choice: "required",
    });
    assertCalls(greedy.choices[0].message);
  },

  async "models.list names the served model"() {
    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    assert.deepEqual(models, ["needle"]);
  },
};

let failed = 0;
for (const [name, check] of Object.entries(checks)) {
  try {
    await check();
    console.log(`ok   ${name}`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}\n     ${error.stack ?? error}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
