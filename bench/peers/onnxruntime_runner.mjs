// needle-bench peer, ONNX Runtime side: runs the graphs export_onnx.py wrote with onnxruntime-node.
//
// Called by onnxruntime_peer.py, which checks the command line and exports the graphs first:
//   node onnxruntime_runner.mjs --onnx-dir DIR --threads T --n-prompt NP --n-gen NG --n-depth ND
//                               --repetitions R --warmup W
//   node onnxruntime_runner.mjs --onnx-dir DIR --threads T --logits --prompt-ids 5,9,... --steps K
// Output and timing semantics: docs/peers.md (the same as bench/src/runner.cc).
// Plain JavaScript for Node 18 (Debian 12's nodejs).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const PROGRAM = 'onnxruntime_runner';
const EOS_ID = 1;
const FIRST_ORDINARY_ID = 6n; // ids below are special tokens: a prompt never holds them
const PROMPT_SEED = 1234n; // the C++ runner's seed, so the peer times the very ids needle-bench does
const UINT64_MASK = (1n << 64n) - 1n;

function fail(message) {
  process.stderr.write(`${PROGRAM}: error: ${message}\n`);
  process.exit(2);
}

function loadOnnxRuntime() {
  try {
    return createRequire(import.meta.url)('onnxruntime-node');
  } catch (error) {
    fail(`cannot load onnxruntime-node (${error.message.split('\n')[0]}); install it with ` +
         '`npm ci --ignore-scripts --no-audit --no-fund` in bench/peers (scripts/install-deps.sh --test does it)');
  }
}

function parseArgs(argv) {
  const flags = new Set(['logits']);
  const args = {};
  for (let i = 0; i < argv.length; ++i) {
    const name = argv[i].replace(/^--/, '');
    if (!argv[i].startsWith('--')) fail(`unexpected argument ${argv[i]}`);
    if (flags.has(name)) {
      args[name] = true;
    } else if (i + 1 < argv.length) {
      args[name] = argv[++i];
    } else {
      fail(`${argv[i]} needs a value`);
    }
  }
  if (!args['onnx-dir']) fail('--onnx-dir is required');
  return args;
}

function integerArg(args, name, fallback) {
  const value = args[name] === undefined ? fallback : Number(args[name]);
  if (!Number.isInteger(value) || value < 0) fail(`--${name} must be a non-negative integer, got ${args[name]}`);
  return value;
}

// splitmix64, exactly as bench/src/runner.cc draws prompt ids in [6, vocab).
export function promptIds(count, vocabSize) {
  let state = PROMPT_SEED;
  const span = BigInt(Math.max(vocabSize - Number(FIRST_ORDINARY_ID), 1));
  const ids = [];
  for (let i = 0; i < count; ++i) {
    state = (state + 0x9E3779B97F4A7C15n) & UINT64_MASK;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & UINT64_MASK;
    z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & UINT64_MASK;
    z ^= z >> 31n;
    ids.push(FIRST_ORDINARY_ID + (z % span));
  }
  return ids;
}

// The first maximum, as the C++ runner's ArgMax returns it.
function argMax(values) {
  let best = 0;
  for (let i = 1; i < values.length; ++i) {
    if (values[i] > values[best]) best = i;
  }
  return best;
}

class Runner {
  constructor(ort, meta, prefill, decode) {
    this.ort = ort;
    this.meta = meta;
    this.prefillSession = prefill;
    this.decodeSession = decode;
    this.kvShape = [meta.config.num_kv_heads, meta.head_dim];
  }

  // Encoder plus every decoder layer's cross-attention K/V.
  async prefill(ids) {
    const encoderIds = new this.ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
    return this.prefillSession.run({ encoder_ids: encoderIds });
  }

  // `steps` decode steps from EOS over a self-attention KV cache, feeding back the argmax;
  // onStep(step, logits, token) after each.
  async greedy(prefilled, steps, onStep) {
    const feeds = { encoder_valid: prefilled.encoder_valid };
    for (const name of this.meta.cross_names) feeds[name] = prefilled[name];
    for (const name of this.meta.past_names) {
      feeds[name] = new this.ort.Tensor('float32', new Float32Array(0), [1, 0, ...this.kvShape]);
    }
    let token = EOS_ID;
    for (let step = 0; step < steps; ++step) {
      feeds.token_id = new this.ort.Tensor('int64', BigInt64Array.of(BigInt(token)), [1, 1]);
      feeds.position = new this.ort.Tensor('int64', BigInt64Array.of(BigInt(step)), [1]);
      const outputs = await this.decodeSession.run(feeds);
      this.meta.past_names.forEach((name, i) => { feeds[name] = outputs[this.meta.present_names[i]]; });
      token = argMax(outputs.logits.data);
      onStep(step, outputs.logits.data, token);
    }
  }
}

// [timed ns, TTFT ms] of one repetition from fresh state, timed as bench/src/runner.cc does.
async function runOnce(runner, test, prompt) {
  const start = process.hrtime.bigint();
  const prefilled = await runner.prefill(prompt);
  const prefillEnd = process.hrtime.bigint();
  let firstToken = prefillEnd;
  await runner.greedy(prefilled, Math.max(test.nGen, 1), (step) => {
    if (step === 0) firstToken = process.hrtime.bigint();
  });
  const end = process.hrtime.bigint();
  let timed = end - prefillEnd;
  if (test.nPrompt > 0) timed = test.nGen > 0 ? end - start : prefillEnd - start;
  return [Number(timed), Number(firstToken - start) / 1e6];
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ort = loadOnnxRuntime();
  const dir = args['onnx-dir'];
  let meta;
  try {
    meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
  } catch (error) {
    fail(`cannot read ${join(dir, 'meta.json')}: ${error.message}`);
  }
  const threads = integerArg(args, 'threads', 1);
  if (threads < 1) fail('--threads must be at least 1');
  const options = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const prefill = await ort.InferenceSession.create(join(dir, 'prefill.onnx'), options);
  const decode = await ort.InferenceSession.create(join(dir, 'decode.onnx'), options);
  const runner = new Runner(ort, meta, prefill, decode);

  if (args.logits) {
    const ids = String(args['prompt-ids'] || '').split(',').filter((s) => s.trim() !== '').map(Number);
    if (ids.length === 0 || !ids.every(Number.isInteger)) fail('--prompt-ids must be comma-separated integers');
    const greedyIds = [];
    const logits = [];
    await runner.greedy(await runner.prefill(ids), integerArg(args, 'steps', 1), (step, row, token) => {
      greedyIds.push(token);
      logits.push(Array.from(row));
    });
    process.stdout.write(`${JSON.stringify({ greedy_ids: greedyIds, logits })}\n`);
    return;
  }

  const test = {
    nPrompt: integerArg(args, 'n-prompt', 0),
    nGen: integerArg(args, 'n-gen', 0),
    nDepth: integerArg(args, 'n-depth', 0),
  };
  const repetitions = integerArg(args, 'repetitions', 5);
  const warmup = integerArg(args, 'warmup', 1);
  const prefillLength = test.nPrompt > 0 ? test.nPrompt : test.nDepth;
  if (prefillLength === 0 || (test.nPrompt === 0 && test.nGen === 0) || repetitions < 1) {
    fail('nothing to time: give --n-prompt, or --n-gen with --n-depth, and --repetitions >= 1');
  }
  const prompt = promptIds(prefillLength, meta.config.vocab_size);
  const samplesNs = [];
  const samplesTtftMs = [];
  for (let run = 0; run < warmup + repetitions; ++run) {
    const [timedNs, ttftMs] = await runOnce(runner, test, prompt);
    if (run < warmup) continue;
    samplesNs.push(timedNs);
    samplesTtftMs.push(ttftMs);
  }
  process.stdout.write(`${JSON.stringify({
    runtime: `onnxruntime-node ${ort.env.versions.node}`,
    engine: 'onnxruntime',
    precision: 'fp32',
    isa: '',
    samples_ns: samplesNs,
    samples_ttft_ms: samplesTtftMs,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024, // maxRSS is in KiB
  })}\n`);
}

// Run only as a program: the tests import promptIds from this module.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((error) => fail(String(error.message || error).split('\n')[0]));
}
