"""Reproduce models/default: the Needle model trained here on the needle15 dataset.

    /usr/bin/python3 models/make_default_model.py all        # tokenizer, training, card (about 8 hours)
    /usr/bin/python3 models/make_default_model.py tokenizer --out DIR   # the tokenizer alone (a minute)
    /usr/bin/python3 models/make_default_model.py card       # rewrite README.md from the run's log

Steps of `all`:
  1. the needle15 train split is generated into the run directory (datasets/generate.py, seed 0),
     with pool values only (stages 1-3, the tokenizer) and with half, 80% and all of its text
     values invented (stages 4, 5 and 6-7; see datasets/README.md, "Invented values in train");
  2. the SentencePiece tokenizer is trained on the first TOKENIZER_RECORDS pool-value train records;
  3. python/needle_train.py trains CONFIG in seven stages (PyTorch, CPU, one thread): stage 1 from
     random weights on the records as generated; stage 2 continues from stage 1's checkpoint with
     a fresh warm-up and cosine, training part of the records on a random subset of their
     distractor tools (shorter prompts: more examples per minute, and the query's values are
     easier to find); stage 3 continues from stage 2 the same way at a lower peak rate and
     another seed; stages 4 to 6 continue on train splits with half, 80% and all of the text
     values invented, which can only be got right by copying them from the query; stage 7 repeats
     the none and near_miss records twice (stage 6 had learnt to call a tool where none fits). The
     last stage's float32 checkpoint is shipped;
  4. README.md (the model card) is written from the training log and, when present, the
     committed test-split report reports/baselines/needle15-test/report.json.

The tokenizer is byte-identical on every run. Training is seeded, but floating-point sums in
multithreaded BLAS may differ between machines, so a retrained checkpoint is close to, not
bit-equal to, the shipped one; the tests pin the shipped files by hash in the card.
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

import needle_convert  # noqa: E402
import needle_tokenizer_build  # noqa: E402

DATASET = os.path.join(ROOT, "datasets", "needle15")
BASELINE_REPORT = os.path.join(ROOT, "reports", "baselines", "needle15-test", "report.json")
TOKENIZER_RECORDS = 8000
CONFIG = {"vocab_size": 8192, "d_model": 256, "num_heads": 4, "num_kv_heads": 2,
          "num_encoder_layers": 3, "num_decoder_layers": 3, "rope_theta": 10000}
# One thread: at this width a second one adds under 10% (measured with --bench-steps), so the
# other core stays free. OpenBLAS does not follow torch.set_num_threads; its own variable pins it.
TRAIN_THREADS = 1
TRAIN_ARGS = ["--threads", str(TRAIN_THREADS), "--seed", "0", "--lr", "2e-3", "--warmup-steps", "100",
              "--tokens-per-batch", "6000", "--max-batch", "64", "--evals", "5", "--dev-greedy-n", "64",
              "--name-value-weight", "2.0"]
# The shipped stages were planned by `--minutes` (steps from measured throughput); their step
# counts are fixed here so that a rerun does the same schedule on any machine.
STAGES = [
    {"name": "stage1", "steps": 2970, "args": []},
    {"name": "stage2", "steps": 3077,
     "args": ["--seed", "1", "--lr", "1e-3", "--warmup-steps", "50", "--distractor-drop", "0.6"]},
    {"name": "stage3", "steps": 1384,
     "args": ["--seed", "2", "--lr", "7e-4", "--warmup-steps", "50", "--distractor-drop", "0.6"]},
    {"name": "stage4", "steps": 1450, "synthetic_values": 0.5,
     "args": ["--seed", "3", "--lr", "7e-4", "--warmup-steps", "50", "--distractor-drop", "0.6"]},
    {"name": "stage5", "steps": 1300, "synthetic_values": 0.8,
     "args": ["--seed", "4", "--lr", "5e-4", "--warmup-steps", "50", "--distractor-drop", "0.6"]},
    {"name": "stage6", "steps": 1300, "synthetic_values": 1.0,
     "args": ["--seed", "5", "--lr", "5e-4", "--warmup-steps", "50", "--distractor-drop", "0.6"]},
    {"name": "stage7", "steps": 1200, "synthetic_values": 1.0,
     "args": ["--seed", "7", "--lr", "4e-4", "--warmup-steps", "50", "--distractor-drop", "0.6",
              "--oversample", "none=2", "--oversample", "near_miss=2"]},
]


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def train_split(run_dir, synthetic_values):
    """The train split a stage reads, generated into the run directory (dev and test are the committed ones)."""
    out = os.path.join(run_dir, f"needle15-synthetic-{synthetic_values}")
    path = os.path.join(out, "train.jsonl")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(ROOT, "datasets", "generate.py"), "--out", out,
                        "--synthetic-values", str(synthetic_values)], check=True)
    return path


def build_tokenizer(out_dir, train):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "tokenizer.model")
    lines = needle_tokenizer_build.dataset_corpus(train, TOKENIZER_RECORDS)
    needle_tokenizer_build.train_tokenizer(lines, path, CONFIG["vocab_size"])
    return path


def stage_log_name(index):
    """The shipped log of each stage: the last one is train_log.json."""
    return "train_log.json" if index == len(STAGES) - 1 else f"train_log_{STAGES[index]['name']}.json"


def train(out_dir, run_dir):
    tokenizer = build_tokenizer(out_dir, train_split(run_dir, 0.0))
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(TRAIN_THREADS), OMP_NUM_THREADS=str(TRAIN_THREADS))
    previous = None
    for index, stage in enumerate(STAGES):
        stage_dir = os.path.join(run_dir, stage["name"])
        # Later flags win in argparse: a stage's own settings override TRAIN_ARGS.
        command = [sys.executable, os.path.join(ROOT, "python", "needle_train.py"),
                   "--train", train_split(run_dir, stage.get("synthetic_values", 0.0)),
                   "--dev", os.path.join(DATASET, "dev.jsonl"),
                   "--tokenizer", tokenizer, "--out", stage_dir, "--config-json", json.dumps(CONFIG),
                   "--steps", str(stage["steps"]), *TRAIN_ARGS, *stage["args"]]
        if previous:
            command += ["--init", previous]
        print(" ".join(command), flush=True)
        subprocess.run(command, check=True, env=env)
        previous = os.path.join(stage_dir, "needle.safetensors")
        shutil.copyfile(os.path.join(stage_dir, "train_log.json"), os.path.join(out_dir, stage_log_name(index)))
    shutil.copyfile(previous, os.path.join(out_dir, "needle.safetensors"))


def percent(value):
    return f"{100 * value:.1f}%"


def score_tables(report_path):
    """Markdown tables of exact match per category, call type and tools offered, from a needle-eval report."""
    if not os.path.exists(report_path):
        return "No test-split report yet: run the command under \"Scores\"."
    with open(report_path, encoding="utf-8") as f:
        report = json.load(f)
    lines = []
    for result in report["results"]:
        overall = result["overall"]
        lines.append(f"**{result['system']}** on `{result['dataset']}`: exact match "
                     f"**{percent(overall['exact_match']['value'])}** of {overall['items']} "
                     f"(95% CI {percent(overall['exact_match']['ci95'][0])}-"
                     f"{percent(overall['exact_match']['ci95'][1])}), parse rate "
                     f"{percent(overall['parse_rate']['value'])}, call F1 {overall['call']['f1']:.3f}\n")
        for title, key in (("category", "by_category"), ("call type", "by_call_type"),
                           ("tools offered", "by_tool_count")):
            if key not in result:
                continue  # a report from before needle-eval grouped by tool count
            lines.append(f"| {title} | items | exact match | call F1 |")
            lines.append("|---|---:|---:|---:|")
            # In the report's order: categories and call types by name, tool counts by size.
            for name, cell in result[key].items():
                lines.append(f"| {name} | {cell['items']} | {percent(cell['exact_match']['value'])} | "
                             f"{cell['call']['f1']:.3f} |")
            lines.append("")
    return "\n".join(lines)


def status_note(report_path):
    """One honest line on where the model stands against the 90% exact-match target."""
    if not os.path.exists(report_path):
        return "Not yet scored on the test split."
    with open(report_path, encoding="utf-8") as f:
        result = json.load(f)["results"][0]
    exact = result["overall"]["exact_match"]["value"]
    if exact >= 0.9:
        return f"It reaches {percent(exact)} exact match on the held-out test split."
    return (f"**Undertrained**: {percent(exact)} exact match on the held-out test split, far below the 90% "
            "this project aims for. Its loss was still falling when the schedule ended. "
            + length_note(result.get("by_tool_count", {})) + copy_note(*uncopied_values(report_path)))


def length_note(groups):
    """The shortcut a report's tool-count groups show, in figures, when it has them."""
    cells = [groups.get(name) for name in ("1 tool, call", "1 tool, no call", "7-10 tools, call",
                                           "7-10 tools, no call")]
    if any(cell is None for cell in cells):
        return ""
    one_call, one_none, many_call, many_none = (percent(cell["exact_match"]["value"]) for cell in cells)
    return ("It decides whether to call by the length of the tool list rather than by what the list holds: "
            f"offered 1 tool it is right on {one_call} of the items that expect a call and {one_none} of those "
            f"that expect none; offered 7 to 10, on {many_call} and {many_none} (see Training for why). ")


def copy_note(uncopied, wrong):
    note = (f"Of the argument values it gets wrong in calls to the right tool, {uncopied} of {wrong} are strings "
            "that the query contains and the model replaced with one it does not")
    if uncopied * 2 >= wrong:
        return note + ": copying unseen values is the main thing it has not learned."
    return note + "; the rest are numbers, normalised values and strings it copied wrongly or in part."


def uncopied_values(report_path):
    """(uncopied, wrong) over the answers' argument values in calls to the right tool: `wrong` are the
    values predicted wrongly, `uncopied` those of them that are strings the query contains, replaced
    by a string it does not contain."""
    predictions = os.path.join(os.path.dirname(report_path), "predictions.jsonl")
    with open(os.path.join(DATASET, "test.jsonl"), encoding="utf-8") as f:
        records = {record["id"]: record for record in map(json.loads, f)}
    uncopied = wrong = 0
    with open(predictions, encoding="utf-8") as f:
        for prediction in map(json.loads, f):
            record = records[prediction["id"]]
            calls = {call.get("name"): call.get("arguments") for call in prediction.get("calls") or []}
            query = record["query"].lower()
            for answer in record["answers"]:
                arguments = calls.get(answer["name"])
                if not isinstance(arguments, dict):
                    continue
                for key, value in answer["arguments"].items():
                    if arguments.get(key) == value:
                        continue
                    wrong += 1
                    got = arguments.get(key)
                    if isinstance(value, str) and value.lower() in query and isinstance(got, str) \
                            and got.lower() not in query:
                        uncopied += 1
    return uncopied, wrong


def stage_rows(logs):
    """One Markdown table row per training stage."""
    rows = []
    for index, log in enumerate(logs):
        args, final = log["args"], log.get("final_eval") or {}
        rows.append(f"| {STAGES[index]['name']} | {'random' if not args.get('init') else STAGES[index - 1]['name']} | "
                    f"{log['total_steps']:,} | {log['examples_seen']:,} "
                    f"({log['examples_seen'] / log['data']['train']:.2f} epochs) | {args['lr']} | "
                    f"{args.get('distractor_drop', 0.0)} | {STAGES[index].get('synthetic_values', 0.0)} | "
                    f"{', '.join(args.get('oversample') or []) or '-'} | "
                    f"{log['wall_seconds'] / 60:.1f} | "
                    f"{percent(final.get('dev_exact', 0.0))} / {final.get('dev_loss', float('nan')):.4f} |")
    return "\n".join(rows)


def model_card(out_dir):
    logs = []
    for index in range(len(STAGES)):
        with open(os.path.join(out_dir, stage_log_name(index)), encoding="utf-8") as f:
            logs.append(json.load(f))
    log = logs[-1]
    weights = os.path.join(out_dir, "needle.safetensors")
    config = needle_convert.read_checkpoint_config(weights)
    counts = needle_convert.param_counts(config)
    files = [(name, os.path.getsize(os.path.join(out_dir, name)), sha256(os.path.join(out_dir, name)))
             for name in ("tokenizer.model", "needle.safetensors")]
    hashes = "\n".join(f"| `{name}` | {size:,} | `{digest}` |" for name, size, digest in files)
    config_rows = "\n".join(f"| `{key}` | {config[key]} |" for key in needle_convert.CONFIG_KEYS)
    parts = "\n".join(f"| {part} | {counts[part]:,} |"
                      for part in ("embedding", "encoder", "decoder", "retrieval", "total"))
    args = log["args"]
    return f"""# models/default: Needle trained on needle15

A small Needle (the upstream architecture at reduced width and depth) trained here, on this
project's synthetic needle15 dataset (`datasets/`), with PyTorch on a CPU. It is the
default model of every command. It knows the 204 tools of needle15's 20 categories and the
phrasings of its templates; it has never seen upstream's data, and on other tool sets (BFCL)
expect it to do poorly.

{status_note(BASELINE_REPORT)}

## Files

| file | bytes | sha256 |
|---|---|---|
{hashes}

`train_log.json` is the last training stage's log (loss per step, dev evaluations, plan, wall
time); `train_log_<stage>.json` the earlier stages'.

## Config

| key | value |
|---|---|
{config_rows}

Stored as float32. Parameters:

| part | parameters |
|---|---|
{parts}

## Training

- Data: needle15's train split (40,000 records, seed 0), with pool values only for stages 1-3
  (`--synthetic-values 0`) and with half (stage 4, the default `--synthetic-values 0.5`), 80%
  (stage 5) and all (stages 6 and 7) of its text values invented (see `datasets/README.md`); dev:
  `datasets/needle15/dev.jsonl`. Stage 7 trains on the none and near_miss records twice per epoch
  (`--oversample`).
- Tokenizer: SentencePiece BPE, vocab 8192, Needle's special ids (PAD 0, EOS 1, BOS 2, UNK 3,
  `<tool_call>` 4, `<tools>` 5), byte fallback, identity normalisation, the word-boundary mark
  U+2581 always a piece of its own and digits split, so that a value is the same tokens in the
  query and in the answer (`python/needle_tokenizer_build.py`), trained on the first
  {TOKENIZER_RECORDS:,} records of the pool-value train split (stages 1-3) laid out as the model reads and writes them.
- Objective: upstream's pairs (decoder input `[EOS, <tool_call>, answer...]`, target
  `[<tool_call>, answer..., EOS]`), cross-entropy on the answer tokens, tokens of tool names and
  argument values weighted {args['name_value_weight']}x.
- Optimiser: AdamW (weight decay {args['weight_decay']}), warm-up then cosine to {args['final_lr_ratio']} of
  the peak in each stage, gradient clipping {args['clip']}, batches of about {args['tokens_per_batch']:,}
  tokens grouped by length, no dropout.
- Stages: the first from random weights; each later one continues from the one before with a
  fresh schedule and, for that fraction of the single, multi, indirect and disfluent records
  ("distractor drop"), a random subset of their distractor tools (the answer's tools always
  stay; none and near_miss records keep all of theirs, and dev/test are untouched). "Invented
  values" is the train split's `--synthetic-values`: the share of text values replaced by made-up
  ones, which only copying from the query gets right.

| stage | from | steps | examples | peak lr | distractor drop | invented values | oversampled | minutes | final dev exact / loss |
|---|---|---:|---:|---:|---:|---:|---|---:|---|
{stage_rows(logs)}

- In all **{sum(entry['wall_seconds'] for entry in logs) / 60:.1f} minutes** wall time on {log['threads']} thread,
  PyTorch {log['torch']}. Dev exact match is greedy decoding in torch on {args['dev_greedy_n']} dev records.

Continuations tried and not shipped, all on the all-invented split, scored on the test split as
below (stages 8 and 9: 1,200 steps at peak lr 0.0002 on 1 thread; stage 10: 961 steps, 57 minutes
at peak lr 0.0004 on 2 threads; stage 11: 1,891 steps, 23,573 examples, 67 minutes at peak lr
0.0004 on 2 threads; stage 12: 3,070 steps, 39,773 of 52,927 examples, 91 minutes at peak lr
0.0003 on 1 thread; stage 13: 1,142 steps, 14,499 examples, 38 minutes at peak lr 0.0002 on 2
threads):

| run | from | distractor drop | oversampled | dev exact | test exact | single | none | near_miss |
|---|---|---:|---|---:|---:|---:|---:|---:|
| stage 8 (seed 8) | stage7 | 0.6 | - | 57.8% | 19.7% | 24.9% | 13.3% | 10.0% |
| stage 9 (seed 9) | stage 8 | 0.6 | none and near_miss 3x, the rest 2x | 62.5% | 23.0% | 15.2% | 45.7% | 49.5% |
| stage 10 (seed 10) | stage7 | 0.0 | - | 51.6% | 18.4% | 25.2% | 3.3% | 3.8% |
| stage 11 (seed 11) | stage7 | 0.6, of every call type | no-call twins | 45.3% | 20.2% | 27.3% | 9.0% | 8.6% |
| stage 12 (seed 12) | stage 11 | 0.6, of every call type | no-call twins of half | 46.9% | 23.2% | 20.6% | 37.6% | 39.5% |
| stage 13 (seed 13) | stage 12 | 0.6, of every call type | no-call twins of half | 54.7% | 21.1% | 25.5% | 17.1% | 16.2% |

Single calls and the two abstaining call types trade against each other as the mix moves, and
the total stays between 18% and 24%. The reason shows in the "tools offered" table under Scores:
the shipped model decides whether to call by the length of the tool list, not by what the list
holds. Distractor drop thins only the records that expect a call (the none and near_miss records
keep every tool, since their tools are the point), so in stages 2-7 a long list went with "no
call" more often than a short one (a third of the 10-tool records against an eighth of the 1- to
2-tool ones at drop 0.6, before oversampling), and the model learnt that shortcut. Stage 10,
trained on the lists as generated (about a fifth of the records expect no call at every
length), lost it: its accuracy on calls no longer falls with the list's length (21.5% with 1
tool, 16.6% with 7-10), but it abstains on almost nothing (3.3% right on none). So this model
has not learnt to tell whether a listed tool fits the request at all; that, more than the
phrasings, is what the next training run must teach. Stage 11 tried the direct way: distractor
drop thinned the none and near_miss records too (`--thin-negatives`; a near_miss record keeps its
decoy), and a quarter of the single, indirect and disfluent records were followed by a twin
without the answer tool that expects no call (`--without-answer 0.25`): the same query with and
without the tool it names. So 27-32% of its records expect no call at every length from 1 to 9
tools (20% at 10, as a twin is one tool shorter than its record). It too lost the length cue
(calls 26.4% right with 1 tool, 16.9% with 7-10; no-calls 4.8% and 14.9%) and called best of all
runs on single items, but abstained on only 9% of none and near_miss items after half a pass over
its 46,318 records: at this size and budget the model still answers the request without checking
the list.
Stage 12 continued stage 11 with a twin after half of those records instead of a quarter, for
most of a pass over the 52,927 records that makes. It is the first run without the length cue
that abstains: no-calls are 36% right with 1 tool, 30% with 2-3, 37% with 4-6 and 45% with 7-10
(the shipped model: 7%, 19%, 69%, 88%), and calls 18%, 18%, 14% and 13% (14%, 17%, 10%, 5%).
It copies values better too (55.0% of argument values right, against 48.0%; call F1 0.173
against 0.129). Its exact match, 23.2% [21.5, 25.1], is within the shipped model's interval but
not above it, so it is not shipped. Stage 13 continued it on the same mix for another 38 minutes
and slid back along the same seesaw: single calls up (25.5%), abstaining down (17.1% right on
none), 21.1% in all.

## Scores

On the held-out test split (templates and values never seen in training), scored by needle-eval
(order-independent calls, normalised values):

    build/release/needle-eval --system needle --dataset needle:datasets/needle15/test.jsonl --out DIR

{score_tables(BASELINE_REPORT)}

## Reproduce

    /usr/bin/python3 models/make_default_model.py all

Needs python3-torch (and libopenblas0-pthread for speed). The tokenizer comes out byte-identical;
the weights close to these (see the script's docstring).
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("all", "tokenizer", "card"))
    parser.add_argument("--out", default=os.path.join(HERE, "default"))
    parser.add_argument("--run", default=os.path.join(ROOT, "build", "train-default"),
                        help="training output directory (checkpoints, log)")
    args = parser.parse_args(argv)
    if args.step == "tokenizer":
        print(f"wrote {build_tokenizer(args.out, train_split(args.run, 0.0))}")
        return 0
    if args.step == "all":
        train(args.out, args.run)
    with open(os.path.join(args.out, "README.md"), "w", encoding="utf-8") as f:
        f.write(model_card(args.out))
    print(f"wrote {os.path.join(args.out, 'README.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
