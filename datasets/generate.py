#!/usr/bin/python3
"""Writes the needle15 tool-calling dataset: train/dev/test .jsonl and manifest.json.

    /usr/bin/python3 datasets/generate.py --out datasets/needle15 [--seed 0]
        [--train N --dev N --test-per-category N --test-per-everyday N] [--synthetic-values F]
        [--readme datasets/README.md]
    /usr/bin/python3 datasets/generate.py --procedural N --out FILE.jsonl [--seed 0]

The second form writes N procedural training records (invented tools, see needlegen/procedural.py).

The same arguments always give byte-identical files (manifest.json holds their sha256).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from needlegen import generate as G  # noqa: E402
from needlegen import procedural  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output directory (with --procedural: output file)")
    parser.add_argument("--procedural", type=int, metavar="N",
                        help="write N procedural training records (invented tools) to --out instead")
    parser.add_argument("--seed", type=int, default=G.DEFAULTS["seed"])
    parser.add_argument("--train", type=int, default=G.DEFAULTS["train"], help="train examples")
    parser.add_argument("--dev", type=int, default=G.DEFAULTS["dev"], help="dev examples")
    parser.add_argument("--test-per-category", type=int, default=G.DEFAULTS["test_per_category"],
                        help="test examples per upstream category")
    parser.add_argument("--test-per-everyday", type=int, default=G.DEFAULTS["test_per_everyday"],
                        help="test examples per everyday category")
    parser.add_argument("--synthetic-values", type=float, default=G.DEFAULTS["synthetic_values"],
                        help="share of train text values (names, places, labels...) replaced by invented ones, "
                             "so that copying from the query is the only way to get them right")
    parser.add_argument("--catalog", default=None, help="catalog directory (default: needlegen/catalog)")
    parser.add_argument("--skip-invalid", action="store_true",
                        help="leave out broken catalog modules (with a warning) instead of failing")
    parser.add_argument("--readme", default=None,
                        help="dataset card whose tables section is rewritten from the manifest")
    args = parser.parse_args(argv)
    if args.procedural is not None:
        if args.procedural < 0:
            parser.error("--procedural N needs N >= 0")
        try:
            written = procedural.write_jsonl(args.out, args.procedural, seed=args.seed)
        except (G.CatalogError, OSError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"{args.out}: {written} procedural records", file=sys.stderr)
        return 0
    try:
        manifest = G.write_dataset(args.out, seed=args.seed, train=args.train, dev=args.dev,
                                   test_per_category=args.test_per_category,
                                   test_per_everyday=args.test_per_everyday,
                                   catalog_dir=args.catalog, skip_invalid=args.skip_invalid,
                                   synthetic_values=args.synthetic_values)
    except G.CatalogError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.readme:
        G.update_readme(args.readme, manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
