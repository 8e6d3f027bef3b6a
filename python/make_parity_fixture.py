"""Write the fixture that ties the PyTorch trainer's model to the C++ reference engine.

    make_parity_fixture.py CKPT TOKENIZER DATASET OUT.json [--records 8] [--max-new 64]

For the first records of DATASET (JSONL in our record format) it stores what the PyTorch
model (needle_torch.py) computes: the encoder ids of the prompt, the greedy
unconstrained generated ids, and for every decode step the top-8 (id, logit) pairs and the
logsumexp over all logits. tests/cpp/trained_parity_test.cc replays the same records through
the C++ engine and checks it reaches the same ids and logits, so the model we train is the
model the engines run.

The model runs in float64 by default, so that the fixture holds the exact network's values
and the test's tolerance measures the engine's float32 error alone, not the sum of two
float32 errors (--precision float32 gives the trainer's own arithmetic; on models/default
float32 PyTorch differs from float64 by up to about 5e-5 relative).

Records whose greedy choice at some step is a near tie (top two logits closer than
--min-margin) are skipped: there fp32 rounding in either implementation may legitimately
pick the other token, and the test could not tell that from a bug.

Regenerate after models/default changes (the fixture records the checkpoint's size, and the
test fails with this command when it no longer matches):

    /usr/bin/python3 python/make_parity_fixture.py models/default/needle.safetensors \\
        models/default/tokenizer.model datasets/needle15/dev.jsonl tests/data/parity/default_model.json
"""

import argparse
import json
import os
import sys

import torch

import needle_torch as nt

TOP_K = 8


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("tokenizer")
    parser.add_argument("dataset")
    parser.add_argument("out")
    parser.add_argument("--records", type=int, default=8)
    parser.add_argument("--max-new", type=int, default=64,
                        help="generation limit (the test passes the same max_new_tokens to the engine)")
    parser.add_argument("--min-margin", type=float, default=1e-3)
    parser.add_argument("--precision", choices=["float64", "float32"], default="float64")
    args = parser.parse_args(argv)

    import sentencepiece as spm

    torch.set_num_threads(1)
    sp = spm.SentencePieceProcessor(model_file=args.tokenizer)
    model = nt.NeedleModel.load(args.checkpoint).eval()
    if args.precision == "float64":
        model = model.double()

    records, skipped = [], 0
    with open(args.dataset, encoding="utf-8") as f:
        for line in f:
            if len(records) >= args.records:
                break
            if not line.strip():
                continue
            record = json.loads(line)
            tools_json = json.dumps(record["tools"], ensure_ascii=False)
            enc = nt.encode_prompt(sp, record["query"], record["tools"])
            generated, logits = model.greedy(torch.tensor([enc]), max_new=args.max_new, return_logits=True)
            steps = []
            near_tie = False
            for row in logits[0]:
                top = torch.topk(row, TOP_K)
                values = top.values.tolist()
                near_tie |= values[0] - values[1] < args.min_margin
                steps.append({"top": [[int(i), float(v)] for i, v in zip(top.indices.tolist(), values)],
                              "logsumexp": float(torch.logsumexp(row.double(), dim=0))})
            if near_tie:
                skipped += 1
                continue
            records.append({"id": record.get("id"), "query": record["query"], "tools_json": tools_json,
                            "encoder_ids": enc, "generated_ids": generated[0], "steps": steps})

    fixture = {
        "about": f"PyTorch (python/needle_torch.py, {args.precision}) results the C++ reference engine must reproduce; "
                 "written by python/make_parity_fixture.py",
        "regenerate": "/usr/bin/python3 python/make_parity_fixture.py " + " ".join(
            [args.checkpoint, args.tokenizer, args.dataset, args.out]),
        "checkpoint": args.checkpoint,
        "checkpoint_bytes": os.path.getsize(args.checkpoint),
        "config": model.config,
        "precision": args.precision,
        "max_new_tokens": args.max_new,
        "top_k": TOP_K,
        "records": records,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=None, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {args.out}: {len(records)} records ({skipped} skipped as near ties), "
          f"{sum(len(r['steps']) for r in records)} decode steps")
    return 0 if records else 1


if __name__ == "__main__":
    sys.exit(main())
