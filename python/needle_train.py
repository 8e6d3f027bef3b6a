"""Train a Needle model on CPU from our dataset JSONL and export it as a needle safetensors file.

    needle_train.py --train datasets/needle15/train.jsonl --dev datasets/needle15/dev.jsonl \\
        --tokenizer models/default/tokenizer.model --config-json '{"d_model":256,...}' \\
        --minutes 50 --threads 2 --out runs/needle15

Records are {"query", "tools", "answers", ...} (datasets/needlegen). Each becomes
  encoder ids  tokens(query) + [<tools>] + tokens(tools JSON)      (as the C++ engine builds it)
  decoder in   [EOS, <tool_call>, tokens(answer JSON)...]
  target       [<tool_call>, tokens(answer JSON)..., EOS]
and the loss is the cross-entropy on the target positions only (needle_torch.decoder_pair).
--procedural N adds N procedural records (invented tools, datasets/needlegen/procedural.py) to
the training records; with it, --train may be left out.

With --minutes the run fits a wall-clock budget: it measures the time of the first steps and
of one dev evaluation, then fixes the total step count so that the warmup + cosine schedule
ends on time. With --steps the count is fixed instead.

Outputs in --out: needle.safetensors (final weights), best.safetensors (best dev evaluation),
train_log.json (arguments, config, every logged step and evaluation, wall time, steps), with
--snapshots the weights at each evaluation (snapshots/step-N.safetensors), and while a run with
--steps is under way checkpoint.pt, from which --resume continues it (a session can end with
--pause-after-minutes; the schedule then goes on in the next).
--bench-steps N only measures training throughput (examples/s) on synthetic ids of realistic
lengths and exits.
"""

import argparse
import collections
import ctypes
import json
import math
import os
import pickle
import random
import signal
import sys
import time

import numpy as np
import torch

import needle_convert as nc
import needle_tokenizer_build as needle_prompt
import needle_torch as nt

# Weight decay applies to matrices only; norm scales, gates, biases and log_temp keep theirs.
NO_DECAY_SUFFIXES = ("/scale", "_gate", "/bias", "log_temp")


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------

def read_jsonl(path, limit=None):
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                records.append(json.loads(line))
                if limit is not None and len(records) >= limit:
                    break
    return records


def answer_spans(answers):
    """Character spans of the tool names and argument values inside answer_text(answers).

    The text is rebuilt piece by piece with the same serialiser, so the spans are exact;
    the assert guards against the two ever drifting apart.
    """
    def dumps(value):
        return nt.compact_json(value, ensure_ascii=False)

    text, spans = "[", []
    for i, call in enumerate(answers):
        text += ("," if i else "") + '{"name":'
        name = dumps(needle_prompt.snake_case(call["name"]))
        spans.append((len(text) + 1, len(text) + len(name) - 1))  # inside the quotes
        text += name + ',"arguments":{'
        for j, (key, value) in enumerate(call.get("arguments", {}).items()):
            text += ("," if j else "") + dumps(key) + ":"
            value_text = dumps(value)
            spans.append((len(text), len(text) + len(value_text)))
            text += value_text
        text += "}}"
    text += "]"
    assert text == nt.answer_text(answers), "answer_spans out of step with answer_text"
    return text, spans


def piece_bytes(sp, token_id):
    piece = sp.id_to_piece(token_id)
    if sp.is_byte(token_id):
        return bytes([int(piece[3:5], 16)])
    return piece.replace("\u2581", " ").encode("utf-8")


def target_weights(sp, answers, target, weight):
    """Per-target-token loss weights: `weight` on tokens of names and values, 1 elsewhere.

    Token byte ranges come from the pieces' texts; SentencePiece's dummy prefix adds one
    leading space. If the pieces do not spell the text back (possible only with odd
    whitespace), the record is left unweighted rather than weighted wrongly.
    """
    weights = [1.0] * len(target)
    if weight == 1.0 or not answers:
        return weights
    text, spans = answer_spans(answers)
    ids = target[1:-1]  # between <tool_call> and EOS
    pieces = [piece_bytes(sp, i) for i in ids]
    raw = b"".join(pieces)
    encoded = text.encode("utf-8")
    if raw == b" " + encoded:
        shift = 1
    elif raw == encoded:
        shift = 0
    else:
        return weights
    byte_spans = [(len(text[:a].encode("utf-8")), len(text[:b].encode("utf-8"))) for a, b in spans]
    pos = -shift
    for k, piece in enumerate(pieces):
        begin, end = pos, pos + len(piece)
        pos = end
        if any(begin < b and a < end for a, b in byte_spans):
            weights[k + 1] = weight
    return weights


class Example:
    __slots__ = ("enc", "dec_in", "target", "weights", "record")

    def __init__(self, enc, dec_in, target, weights, record):
        self.enc, self.dec_in, self.target, self.weights, self.record = enc, dec_in, target, weights, record


# Call types whose answer names every tool that matters: the others are distractors. For
# none and near_miss the distractors are the point of the example, so by default they stay whole.
THINNABLE_CALL_TYPES = ("single", "multi", "indirect", "disfluent")
CALL_TYPES = THINNABLE_CALL_TYPES + ("none", "near_miss", "no_tools")
# Records with one call whose tool, when removed, leaves a record that expects no call.
ONE_CALL_TYPES = ("single", "indirect", "disfluent")


def thin_distractors(record, rng, keep=None):
    """A copy of record keeping the tools named in `keep` (default: its answer tools) and a random
    subset of the other tools, in their order.

    Shorter prompts train faster and let a small model learn to read the query and copy its
    values before it has to find them among ten tool schemas; the test split stays untouched.
    Thinning only the records that expect a call makes long tool lists go with "no call" more
    often than short ones: the stage-7 default model learnt to decide by length
    (models/default/README.md). `--thin-negatives` thins none and near_miss records as well.
    """
    keep = {call["name"] for call in record["answers"]} if keep is None else set(keep)
    others = [tool for tool in record["tools"] if tool["name"] not in keep]
    kept = set(id(tool) for tool in rng.sample(others, rng.randint(0, len(others))))
    tools = [tool for tool in record["tools"] if tool["name"] in keep or id(tool) in kept]
    return dict(record, tools=tools)


# The dataset catalog's tools (needlegen ToolPlans: category, near-miss tools) by name and by
# category, and needlegen's test of whether one tool might answer the other's request.
Catalog = collections.namedtuple("Catalog", "by_name by_category related")


DATASETS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "datasets")


def load_catalog_tools():
    sys.path.insert(0, DATASETS_DIR)
    from needlegen import generate as needlegen
    categories, _ = needlegen.load_catalog()
    return Catalog({plan.name: plan for category in categories for plan in category.tools},
                   {category.name: category.tools for category in categories}, needlegen.related)


def near_miss_decoys(record, catalog):
    """Names of the record's tools that may be its near-miss decoy.

    The generator puts one tool related to the request's tool (same category, or a declared near
    miss) among distractors unrelated to it, but the record does not say which tool the request is
    for. Each tool of the record's category is a hypothesis; one that is related to exactly one
    listed tool fits how the record was built, and the union of those tools is kept (every related
    tool if no hypothesis fits, which keeps more than needed rather than losing the decoy).
    """
    if record["category"] not in catalog.by_category:
        # Not a catalog record (a procedural one, whose tools are invented): any tool may be the decoy.
        return {tool["name"] for tool in record["tools"]}
    listed = [catalog.by_name[tool["name"]] for tool in record["tools"] if tool["name"] in catalog.by_name]
    hypotheses = [{t.name for t in listed if catalog.related(p, t)}
                  for p in catalog.by_category.get(record["category"], ())]
    fitting = [names for names in hypotheses if len(names) == 1]
    return set().union(*(fitting or hypotheses))


def without_answer_tools(record):
    """The record with its answer tools removed, so that no listed tool fits: a no-call twin that
    differs from the call only in that tool, which makes the model check that the request's tool is
    there rather than guess from the rest of the prompt."""
    names = {call["name"] for call in record["answers"]}
    return dict(record, id=record["id"] + "-without", call_type="none", answers=[],
                tools=[tool for tool in record["tools"] if tool["name"] not in names])


def kept_tools(record, catalog):
    """The tools thinning must keep: the answer's, a near_miss record's decoy, none of a none record's."""
    if record["call_type"] == "near_miss":
        return near_miss_decoys(record, catalog)
    return {call["name"] for call in record["answers"]}


def training_records(records, rng, distractor_drop=0.0, thin_negatives=None, without_answer=0.0):
    """The records a run trains on, after distractor thinning and no-call twins.

    `thin_negatives` is the catalog (load_catalog_tools) when none and near_miss records are thinned
    too; near_miss records keep their decoy. `without_answer` is the share of one-call records
    that are followed by their without_answer_tools twin (thinned like the record before it).
    """
    thinnable = THINNABLE_CALL_TYPES + (("none", "near_miss") if thin_negatives else ())
    out = []
    for record in records:
        if distractor_drop and record["call_type"] in thinnable and rng.random() < distractor_drop:
            record = thin_distractors(record, rng, kept_tools(record, thin_negatives))
        out.append(record)
        if without_answer and record["call_type"] in ONE_CALL_TYPES and rng.random() < without_answer:
            out.append(without_answer_tools(record))
    return out


def procedural_records(count, seed):
    """`count` procedural records (invented tools; datasets/needlegen/procedural.py), by `seed`."""
    if not count:
        return []
    sys.path.insert(0, DATASETS_DIR)
    from needlegen import procedural
    return procedural.generate(count, seed)


def oversample(records, factors):
    """Each record repeated by its call type's factor (1 for types not named).

    The test split weighs none and near_miss as a tenth each; a stage that trains on invented
    values can shift the model towards always calling a tool, so their share is raised here
    rather than in the generated split, which stays one file for every stage.
    """
    return [record for record in records for _ in range(factors.get(record["call_type"], 1))]


def parse_oversample(items):
    """{call_type: factor} from ["none=2", ...]; an unknown type or a factor < 1 is an error."""
    factors = {}
    for item in items or []:
        call_type, sep, factor = item.partition("=")
        if not sep or call_type not in CALL_TYPES or not factor.isdigit() or int(factor) < 1:
            raise SystemExit(f"--oversample {item!r}: expected CALL_TYPE=N with N >= 1 and CALL_TYPE one of "
                             f"{', '.join(CALL_TYPES)}")
        factors[call_type] = int(factor)
    return factors


def make_examples(sp, records, name_value_weight=1.0):
    examples = []
    for record in records:
        enc = nt.encode_prompt(sp, record["query"], record["tools"])
        dec_in, target = nt.decoder_pair(sp, record["answers"])
        weights = target_weights(sp, record["answers"], target, name_value_weight)
        examples.append(Example(enc, dec_in, target, weights, record))
    return examples


def make_batches(examples, tokens_per_batch, max_batch, rng):
    """Length-bucketed batches: examples of similar encoder length, padded size <= budget.

    Sorting by length with a random tie-break (then shuffling the batches) keeps padding
    waste small while every epoch still sees different groupings and orders.
    """
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i].enc), rng.random()))
    batches, current, width = [], [], 0
    for i in order:
        new_width = max(width, len(examples[i].enc))
        if current and (new_width * (len(current) + 1) > tokens_per_batch or len(current) >= max_batch):
            batches.append(current)
            current, new_width = [], len(examples[i].enc)
        current.append(i)
        width = new_width
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def collate(examples):
    enc = nt.pad_batch([e.enc for e in examples])
    dec_in = nt.pad_batch([e.dec_in for e in examples])
    target = nt.pad_batch([e.target for e in examples])
    weights = torch.zeros(target.shape, dtype=torch.float32)
    for i, e in enumerate(examples):
        weights[i, :len(e.weights)] = torch.as_tensor(e.weights)
    return enc, dec_in, target, weights


def batch_loss(model, batch):
    """Weighted mean cross-entropy over target tokens, and the unweighted token count."""
    enc, dec_in, target, weights = batch
    logits = model(enc, dec_in)
    ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                           reduction="none").view(target.shape)
    return (ce * weights).sum() / weights.sum(), int((weights > 0).sum())


# ---------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------

def canonical_calls(text):
    """A comparable form of a call list (order-independent), or None if it does not parse."""
    try:
        calls = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    if not isinstance(calls, list):
        return None
    out = []
    for call in calls:
        if not isinstance(call, dict):
            return None
        out.append(json.dumps({"name": call.get("name"), "arguments": call.get("arguments", {})},
                              sort_keys=True))
    return sorted(out)


def output_text(sp, ids):
    """The call text as the engine reports it: leading <tool_call> stripped, then decoded."""
    if ids and ids[0] == nt.TOOL_CALL_ID:
        ids = ids[1:]
    return sp.decode([i for i in ids if i != nt.TOOL_CALL_ID])


@torch.no_grad()
def evaluate(model, sp, loss_examples, greedy_examples, tokens_per_batch, max_batch):
    model.eval()
    total, count = 0.0, 0
    rng = random.Random(0)
    for batch_ids in make_batches(loss_examples, tokens_per_batch, max_batch, rng):
        batch = collate([loss_examples[i] for i in batch_ids])
        _, dec_in, target, weights = batch
        unweighted = (batch[0], dec_in, target, (weights > 0).float())
        loss, n = batch_loss(model, unweighted)
        total += float(loss) * n
        count += n
    exact, parsed = 0, 0
    samples = []
    for batch_ids in make_batches(greedy_examples, tokens_per_batch, max_batch, rng):
        examples = [greedy_examples[i] for i in batch_ids]
        max_new = min(nt.MAX_NEW_TOKENS, max(len(e.target) for e in examples) + 16)
        generated = model.greedy(nt.pad_batch([e.enc for e in examples]), max_new=max_new)
        for e, ids in zip(examples, generated):
            text = output_text(sp, ids)
            got = canonical_calls(text)
            want = canonical_calls(nt.answer_text(e.record["answers"]))
            parsed += got is not None
            exact += got is not None and got == want
            if len(samples) < 3:
                samples.append({"query": e.record["query"], "output": text})
    model.train()
    return {"dev_loss": total / max(count, 1), "dev_exact": exact / max(len(greedy_examples), 1),
            "dev_parse": parsed / max(len(greedy_examples), 1), "dev_greedy_n": len(greedy_examples),
            "samples": samples}


# ---------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------

def lr_at(step, total, warmup, peak, final_ratio):
    """Linear warmup to `peak`, then cosine down to peak * final_ratio at step `total`."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak * (final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model, lr, weight_decay):
    decay, no_decay = [], []
    for name in model.names:
        (no_decay if name.endswith(NO_DECAY_SUFFIXES) else decay).append(model.p(name))
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.98), eps=1e-8)


def config_from_args(args):
    if args.config_json:
        raw = json.loads(args.config_json)
    else:
        raw = dict(nc.PRESETS[args.config])
    raw.setdefault("vocab_size", 8192)
    return nc.normalize_config(raw)


def synthetic_examples(n, vocab, rng):
    """Random ids with realistic lengths (encoder ~300, decoder ~30) for throughput runs."""
    examples = []
    for _ in range(n):
        t_enc = int(min(700, max(100, rng.gauss(300, 120))))
        t_dec = int(min(80, max(8, rng.gauss(30, 10))))
        enc = [rng.randrange(6, vocab) for _ in range(t_enc)]
        dec = [rng.randrange(6, vocab) for _ in range(t_dec)]
        examples.append(Example(enc, [nt.EOS_ID] + dec[:-1], dec, [1.0] * t_dec, None))
    return examples


class Trainer:
    def __init__(self, args, config, train_examples, log):
        self.args, self.config, self.train_examples, self.log = args, config, train_examples, log
        if args.init:
            self.model = nt.NeedleModel.load(args.init)
            if self.model.config != nc.normalize_config(config):
                raise SystemExit(f"{args.init}: config {self.model.config} differs from the run's {config}")
        else:
            self.model = nt.NeedleModel(config).init_weights(args.seed)
        self.model.fused_attention = nt.FUSED_ATTENTION_AVAILABLE and not args.explicit_attention
        self.model.train()
        self.optimizer = make_optimizer(self.model, args.lr, args.weight_decay)
        self.rng = random.Random(args.seed)
        self.batches = []
        self.epoch = 0
        self.step = 0
        self.examples_seen = 0

    def next_batch(self):
        if not self.batches:
            self.batches = make_batches(self.train_examples, self.args.tokens_per_batch, self.args.max_batch,
                                        self.rng)
            self.epoch += 1
        return [self.train_examples[i] for i in self.batches.pop()]

    # Everything a resumed run needs to continue exactly where this one stopped: the weights, the
    # optimiser's moments, the position in the epoch's batch order and every random stream.
    def state(self):
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "rng": self.rng.getstate(), "torch_rng": torch.get_rng_state(), "batches": self.batches,
                "epoch": self.epoch, "step": self.step, "examples_seen": self.examples_seen}

    def load_state(self, state):
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        self.batches = state["batches"]
        self.epoch, self.step, self.examples_seen = state["epoch"], state["step"], state["examples_seen"]

    def train_step(self, total_steps):
        examples = self.next_batch()
        lr = lr_at(self.step, total_steps, self.args.warmup_steps, self.args.lr, self.args.final_lr_ratio)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss, tokens = batch_loss(self.model, collate(examples))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.args.clip)
        self.optimizer.step()
        self.step += 1
        self.examples_seen += len(examples)
        return float(loss.detach()), float(grad_norm), lr, len(examples), tokens


def attention_kind(model):
    return "fused" if model.fused_attention else "explicit"


def bench(args, config):
    torch.manual_seed(args.seed)
    examples = synthetic_examples(2000, config["vocab_size"], random.Random(args.seed))
    trainer = Trainer(args, config, examples, None)
    warm = 3
    for _ in range(warm):
        trainer.train_step(10**9)
    # CPU time as well as wall time: on a shared machine the wall-clock rate depends on the
    # neighbours. Examples per CPU-second depend on them less, though not at all only with
    # --threads 1 (waiting OpenMP threads spin, and that counts as CPU time).
    start, cpu_start, seen = time.time(), time.process_time(), 0
    for _ in range(args.bench_steps):
        _, _, _, n, _ = trainer.train_step(10**9)
        seen += n
    elapsed = time.time() - start
    cpu = time.process_time() - cpu_start
    counts = nc.param_counts(config)
    result = {"config": config, "parameters": counts["total"], "fp32_bytes": 4 * counts["total"],
              "steps": args.bench_steps, "seconds": round(elapsed, 2),
              "examples_per_s": round(seen / elapsed, 2), "step_s": round(elapsed / args.bench_steps, 3),
              "examples_per_cpu_s": round(seen / cpu, 3), "cpu_busy": round(cpu / elapsed, 2),
              "tokens_per_batch": args.tokens_per_batch, "threads": torch.get_num_threads(),
              "attention": attention_kind(trainer.model)}
    print(json.dumps(result))
    return 0


def prepare_examples(args, sp):
    """(train, dev) examples from the run's data arguments: records read or generated, thinned, tokenized."""
    train_records = oversample(read_jsonl(args.train, args.train_limit) if args.train else [],
                               parse_oversample(args.oversample))
    procedural_seed = args.seed if args.procedural_seed is None else args.procedural_seed
    train_records += procedural_records(args.procedural, procedural_seed)
    dev_records = read_jsonl(args.dev) if args.dev else []
    catalog = load_catalog_tools() if args.thin_negatives else None
    train_records = training_records(train_records, random.Random(args.seed + 2), args.distractor_drop, catalog,
                                     args.without_answer)
    train_examples = make_examples(sp, train_records, args.name_value_weight)
    for example in train_examples:
        example.record = None  # only evaluation reads records: dropping them halves the memory
    return train_examples, make_examples(sp, dev_records)


def save_examples(path, train_examples, dev_examples):
    with open(path + ".tmp", "wb") as f:
        pickle.dump((train_examples, dev_examples), f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(path + ".tmp", path)


def load_examples(path):
    with open(path, "rb") as f:
        return pickle.load(f)


# Arguments that change what a run trains on or how: a checkpoint resumes only under the same ones.
RESUME_MUST_MATCH = ("train", "dev", "tokenizer", "config", "config_json", "seed", "steps", "lr", "final_lr_ratio",
                     "warmup_steps", "weight_decay", "clip", "tokens_per_batch", "max_batch", "name_value_weight",
                     "init", "distractor_drop", "thin_negatives", "without_answer", "procedural",
                     "procedural_seed", "oversample", "evals", "eval_every", "dev_loss_n", "dev_greedy_n",
                     "train_limit")


def save_checkpoint(path, trainer, run_state):
    """Writes the resumable state atomically: a crash mid-write leaves the previous checkpoint."""
    torch.save({"trainer": trainer.state(), **run_state}, path + ".tmp")
    os.replace(path + ".tmp", path)


def load_checkpoint(path, args):
    state = torch.load(path, weights_only=False)
    saved = state["log"]["args"]
    changed = [key for key in RESUME_MUST_MATCH if saved.get(key) != getattr(args, key)]
    if changed:
        raise SystemExit(f"{path}: cannot resume with different {', '.join(changed)} "
                         f"(checkpoint: {', '.join(f'{k}={saved.get(k)!r}' for k in changed)})")
    return state


def train(args, config):
    import sentencepiece as spm

    t_start = time.time()
    deadline = t_start + args.minutes * 60 if args.minutes else None
    os.makedirs(args.out, exist_ok=True)
    log = {"args": vars(args), "config": config, "parameters": nc.param_counts(config), "torch": torch.__version__,
           "threads": torch.get_num_threads(), "steps": [], "evals": []}
    log_path = os.path.join(args.out, "train_log.json")

    def write_log():
        with open(log_path + ".tmp", "w") as f:
            json.dump(log, f, indent=1)
        os.replace(log_path + ".tmp", log_path)

    def say(message):
        print(f"[{time.time() - t_start:7.1f}s] {message}", flush=True)

    sp = spm.SentencePieceProcessor(model_file=args.tokenizer)
    if sp.get_piece_size() != config["vocab_size"]:
        raise SystemExit(f"tokenizer has {sp.get_piece_size()} pieces, config vocab_size {config['vocab_size']}")
    checkpoint_path = os.path.join(args.out, "checkpoint.pt")
    examples_path = os.path.join(args.out, "examples.pkl")
    if args.resume and os.path.exists(checkpoint_path) and os.path.exists(examples_path):
        # A resumed run reads the examples it started with: the generators may have changed since,
        # and the checkpoint's batch order indexes these very examples.
        train_examples, dev_examples = load_examples(examples_path)
        say(f"examples of the run read from {examples_path}")
    else:
        train_examples, dev_examples = prepare_examples(args, sp)
        if args.steps:
            save_examples(examples_path, train_examples, dev_examples)
    dev_rng = random.Random(args.seed + 1)
    dev_rng.shuffle(dev_examples)
    dev_loss_examples = dev_examples[:args.dev_loss_n]
    dev_greedy_examples = dev_examples[:args.dev_greedy_n]
    enc_lens = [len(e.enc) for e in train_examples]
    say(f"{len(train_examples)} train / {len(dev_examples)} dev records; encoder tokens mean "
        f"{np.mean(enc_lens):.0f} max {max(enc_lens)}; decoder mean "
        f"{np.mean([len(e.target) for e in train_examples]):.1f}; data ready")
    log["data"] = {"train": len(train_examples), "dev": len(dev_examples),
                   "encoder_tokens_mean": float(np.mean(enc_lens)), "encoder_tokens_max": max(enc_lens)}

    torch.manual_seed(args.seed)
    trainer = Trainer(args, config, train_examples, log)
    log["attention"] = attention_kind(trainer.model)
    best = None
    resumed = None
    if args.resume and os.path.exists(checkpoint_path):
        resumed = load_checkpoint(checkpoint_path, args)
        trainer.load_state(resumed["trainer"])
        best, previous = resumed["best"], resumed["log"]
        # The log continues the old one; this session's wall clock starts at zero again.
        previous.setdefault("sessions", []).append({"resumed_at_step": trainer.step, "args": vars(args)})
        log.update({key: previous[key] for key in ("steps", "evals", "sessions", "plans") if key in previous})
        say(f"resumed {checkpoint_path} at step {trainer.step} (epoch {trainer.epoch})")
    last_checkpoint = time.time()

    def checkpoint():
        nonlocal last_checkpoint
        save_checkpoint(checkpoint_path, trainer, {"best": best, "log": log, "eval_from": eval_from})
        last_checkpoint = time.time()

    def run_eval():
        nonlocal best
        if not dev_examples:
            return None
        t0 = time.time()
        result = evaluate(trainer.model, sp, dev_loss_examples, dev_greedy_examples, args.tokens_per_batch,
                          args.max_batch)
        result.update(step=trainer.step, seconds=round(time.time() - t0, 2),
                      wall=round(time.time() - t_start, 1))
        log["evals"].append(result)
        if args.snapshots:
            # The weights at every evaluation: a learning curve on other data can be drawn later.
            os.makedirs(os.path.join(args.out, "snapshots"), exist_ok=True)
            trainer.model.save(os.path.join(args.out, "snapshots", f"step-{trainer.step:07d}.safetensors"))
        key = (result["dev_exact"], -result["dev_loss"])
        if best is None or key > best:
            best = key
            trainer.model.save(os.path.join(args.out, "best.safetensors"))
            result["best"] = True
        say(f"eval step {trainer.step}: dev loss {result['dev_loss']:.4f} exact {result['dev_exact']:.3f} "
            f"parse {result['dev_parse']:.3f} ({result['seconds']}s)")
        write_log()
        return result

    def log_step(loss, grad_norm, lr, n, tokens, step_seconds):
        entry = {"step": trainer.step, "loss": round(loss, 5), "grad_norm": round(grad_norm, 4), "lr": lr,
                 "batch": n, "tokens": tokens, "step_s": round(step_seconds, 3),
                 "wall": round(time.time() - t_start, 1), "epoch": trainer.epoch}
        log["steps"].append(entry)
        if trainer.step % args.log_every == 0 or trainer.step <= 3:
            say(f"step {trainer.step}/{total_steps} loss {loss:.4f} gnorm {grad_norm:.2f} lr {lr:.2e} "
                f"batch {n} ({step_seconds:.2f}s)")

    if args.steps:
        total_steps = args.steps
        eval_every = args.eval_every or max(1, total_steps // max(1, args.evals))
    else:
        # Probe with the warmup schedule (its shape does not depend on the total yet), then plan.
        total_steps = 10**9
        probe_times = []
        for _ in range(args.probe_steps):
            t0 = time.time()
            out = trainer.train_step(max(total_steps, args.warmup_steps + 1))
            probe_times.append(time.time() - t0)
            log_step(*out, probe_times[-1])
        step_seconds = float(np.mean(probe_times[2:] if len(probe_times) > 4 else probe_times))
        eval_result = run_eval()
        eval_seconds = eval_result["seconds"] if eval_result else 0.0
        eval_every = None

    def plan_steps(step_seconds, eval_seconds, evals_left):
        """Steps that fit in the time left, keeping room for the evaluations still to come."""
        nonlocal eval_every
        remaining = deadline - time.time() - args.reserve_seconds
        remaining -= evals_left * eval_seconds * 1.2  # evaluation times vary with what greedy writes
        total = trainer.step + max(0, int(remaining / step_seconds * args.safety))
        if eval_every is None:
            eval_every = args.eval_every or max(1, (total - trainer.step) // max(1, args.evals))
        plan = {"at_step": trainer.step, "step_s": round(step_seconds, 4), "eval_s": eval_seconds,
                "total_steps": total, "eval_every": eval_every}
        log.setdefault("plans", []).append(plan)
        say(f"plan: {step_seconds:.3f}s/step, eval {eval_seconds:.1f}s -> {total} steps, eval every {eval_every}")
        write_log()
        return total

    if not args.steps:
        total_steps = plan_steps(step_seconds, eval_seconds, args.evals + 1)

    eval_from = resumed["eval_from"] if resumed else trainer.step  # spaced from the end of the probe
    stopped_by_clock = paused = False
    stop_requested = []
    # Only while training: afterwards (the export, or a caller that runs train() in-process) the
    # signals do what they did before.
    previous_handlers = {signum: signal.signal(signum, lambda signum, frame: stop_requested.append(signum))
                         for signum in (signal.SIGTERM, signal.SIGINT)}
    while trainer.step < total_steps:
        out_of_session = (args.pause_after_minutes and time.time() - t_start > 60 * args.pause_after_minutes) or (
            args.pause_at_step is not None and trainer.step >= args.pause_at_step)
        if stop_requested or out_of_session:
            # Paused, not finished: the schedule goes on when a later run gives --resume.
            checkpoint()
            paused = True
            say(f"paused at step {trainer.step}/{total_steps}; checkpoint {checkpoint_path}")
            break
        if args.checkpoint_minutes and time.time() - last_checkpoint > 60 * args.checkpoint_minutes:
            checkpoint()
        # The plan can be off when the machine gets busier; never overrun the budget, and
        # keep time for the final evaluation and export.
        last_eval = log["evals"][-1]["seconds"] if log["evals"] else 0.0
        if deadline and time.time() + last_eval + args.reserve_seconds > deadline:
            stopped_by_clock = True
            say(f"stopping at step {trainer.step}: wall-clock budget reached")
            break
        t0 = time.time()
        out = trainer.train_step(total_steps)
        log_step(*out, time.time() - t0)
        if (trainer.step - eval_from) % eval_every == 0 and trainer.step < total_steps:
            run_eval()
            if deadline and trainer.step < 0.8 * total_steps:
                # Re-plan from the step times measured so far: a busier or quieter machine
                # would otherwise make the cosine end early or be cut off by the clock. Late
                # in the run a change would jolt the learning rate, so the plan then stays.
                recent = [entry["step_s"] for entry in log["steps"][args.probe_steps:]]
                # The first evaluation, of a barely trained model that rambles to the length
                # limit, is the slowest; later ones predict the rest better.
                later = [e["seconds"] for e in log["evals"][1:]] or [e["seconds"] for e in log["evals"]]
                evals_left = (total_steps - trainer.step) // eval_every + 1  # + the final one
                total_steps = plan_steps(float(np.mean(recent)), float(np.mean(later)), evals_left)
    for signum, handler in previous_handlers.items():
        signal.signal(signum, handler)
    final_eval = None if paused else run_eval()

    trainer.model.save(os.path.join(args.out, "needle.safetensors"))
    if not dev_examples:
        trainer.model.save(os.path.join(args.out, "best.safetensors"))
    train_seconds = sum(entry["step_s"] for entry in log["steps"])
    log.update(wall_seconds=round(time.time() - t_start, 1), train_seconds=round(train_seconds, 1),
               examples_per_s=round(trainer.examples_seen / max(train_seconds, 1e-9), 2),
               total_steps=trainer.step, planned_steps=total_steps,
               stopped_by_clock=stopped_by_clock, paused=paused, epochs=trainer.epoch,
               examples_seen=trainer.examples_seen, final_eval=final_eval)
    write_log()
    if not paused:
        for path in (checkpoint_path, examples_path):  # finished: nothing left to resume
            if os.path.exists(path):
                os.remove(path)
    say(f"done: {trainer.step} steps, {trainer.examples_seen} examples ({trainer.epoch} epochs), "
        f"{log['wall_seconds']}s; wrote {args.out}/needle.safetensors")
    return 0


def keep_freed_memory():
    """Stop glibc from returning large freed blocks to the kernel.

    Every activation here is a fresh multi-megabyte tensor; by default glibc serves those
    with mmap and unmaps them on free, so each one is page-faulted in anew. On the 2-core
    machines this trains on that tripled the step time; keeping the memory cut it to a third.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc: nothing to tune
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, 2**31 - 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", help="training records (JSONL)")
    parser.add_argument("--dev", help="dev records (JSONL) for evaluation and best-checkpoint selection")
    parser.add_argument("--tokenizer", default="models/default/tokenizer.model")
    parser.add_argument("--out", default="runs/needle")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--config", choices=sorted(nc.PRESETS), default="tiny")
    group.add_argument("--config-json", help="config keys as JSON (vocab_size defaults to 8192)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, help="wall-clock budget; sets the number of steps")
    parser.add_argument("--steps", type=int, help="fixed number of steps (instead of --minutes)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--final-lr-ratio", type=float, default=0.05)
    parser.add_argument("--warmup-steps", type=int, default=100)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--tokens-per-batch", type=int, default=6000,
                        help="padded encoder tokens per batch (batch size x longest encoder input)")
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--name-value-weight", type=float, default=1.0,
                        help="loss weight of tool-name and argument-value tokens (1 = plain)")
    parser.add_argument("--init", help="start from this needle checkpoint instead of random weights")
    parser.add_argument("--distractor-drop", type=float, default=0.0,
                        help="fraction of single/multi/indirect/disfluent train records that keep only a "
                             "random subset of their distractor tools (beware: it makes a long tool list "
                             "a cue for answering no call unless --thin-negatives)")
    parser.add_argument("--thin-negatives", action="store_true",
                        help="--distractor-drop thins none and near_miss records too (near_miss keeps its "
                             "decoy, found in the dataset catalog), so that length says nothing about the answer")
    parser.add_argument("--without-answer", type=float, default=0.0,
                        help="share of single/indirect/disfluent records followed by a twin without the "
                             "answer tool that expects no call")
    parser.add_argument("--procedural", type=int, default=0, metavar="N",
                        help="add N procedural records (invented tools and wordings, datasets/needlegen/"
                             "procedural.py) to the training records")
    parser.add_argument("--procedural-seed", type=int, help="seed of the procedural records (default: --seed)")
    parser.add_argument("--oversample", action="append", metavar="CALL_TYPE=N",
                        help="repeat train records of this call type N times (repeatable)")
    parser.add_argument("--evals", type=int, default=5, help="dev evaluations during the run")
    parser.add_argument("--eval-every", type=int, help="steps between evaluations (overrides --evals)")
    parser.add_argument("--dev-loss-n", type=int, default=400, help="dev records for the dev loss")
    parser.add_argument("--dev-greedy-n", type=int, default=64, help="dev records for greedy exact match")
    parser.add_argument("--train-limit", type=int, help="use only the first N training records")
    parser.add_argument("--probe-steps", type=int, default=20, help="steps timed to plan a --minutes run")
    parser.add_argument("--safety", type=float, default=0.97, help="fraction of the measured budget to plan")
    parser.add_argument("--reserve-seconds", type=float, default=20.0, help="kept free for the final export")
    parser.add_argument("--log-every", type=int, default=25)
    parser.add_argument("--bench-steps", type=int, help="only measure throughput on synthetic data")
    parser.add_argument("--explicit-attention", action="store_true",
                        help="attention as explicit matmuls even where PyTorch's fused kernel is available "
                             "(2.5 and later), to compare the two")
    parser.add_argument("--checkpoint-minutes", type=float, default=10.0,
                        help="write OUT/checkpoint.pt (weights, optimiser, data order, random state) this often")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUT/checkpoint.pt if it exists (same data and schedule arguments)")
    parser.add_argument("--pause-after-minutes", type=float,
                        help="checkpoint and stop after this long, leaving the schedule for a later --resume "
                             "(SIGTERM and SIGINT pause the same way)")
    parser.add_argument("--pause-at-step", type=int, help="the same, once this many steps are done")
    parser.add_argument("--snapshots", action="store_true",
                        help="keep the weights of every evaluation as OUT/snapshots/step-N.safetensors")
    args = parser.parse_args(argv)

    keep_freed_memory()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    config = config_from_args(args)
    if args.bench_steps:
        return bench(args, config)
    if not args.train and not args.procedural:
        parser.error("--train or --procedural is required")
    if args.procedural < 0:
        parser.error("--procedural N needs N >= 0")
    if bool(args.minutes) == bool(args.steps):
        parser.error("give exactly one of --minutes and --steps")
    if args.minutes and (args.resume or args.pause_after_minutes or args.pause_at_step is not None):
        parser.error("--resume and --pause-after-minutes need --steps: a --minutes plan cannot span runs")
    return train(args, config)


if __name__ == "__main__":
    sys.exit(main())
