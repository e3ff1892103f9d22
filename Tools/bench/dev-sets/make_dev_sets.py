"""Writes the development task lists dev10.txt and mixed50.txt from ARC-AGI-1's training tasks.

The lists are committed so the sets never drift; this script only shows how they were made and
checks them (`--check` compares with the committed files). Task ids are not ARC data; the task
files are fetched with `arc-pipeline fetch arc-agi-1`.
  dev10:   every ARC-AGI-1 training task whose grids (all inputs and outputs, demonstrations and
           tests) fit 10x10, sorted by id.
  mixed50: 50 ARC-AGI-1 training tasks drawn with Python's random.Random(20261129).sample from
           the 400 ids sorted, then sorted.
Usage: python3 Tools/bench/dev-sets/make_dev_sets.py [--data-dir arc-data] [--check]
"""
import argparse
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
MIXED_SEED = 20261129


def fits(task, side):
    for split in ("train", "test"):
        for pair in task[split]:
            for key in ("input", "output"):
                grid = pair[key]
                if len(grid) > side or max(len(row) for row in grid) > side:
                    return False
    return True


def make(data_dir):
    folder = os.path.join(data_dir, "arc-agi-1", "training")
    if not os.path.isdir(folder):
        sys.exit(f"error: {folder} not found (arc-pipeline fetch arc-agi-1)")
    ids = sorted(name[:-5] for name in os.listdir(folder) if name.endswith(".json"))
    if len(ids) != 400:
        sys.exit(f"error: {folder} holds {len(ids)} tasks, expected ARC-AGI-1's 400 training tasks")
    tasks = {i: json.load(open(os.path.join(folder, i + ".json"))) for i in ids}
    return {
        "dev10": ("every ARC-AGI-1 training task whose grids (demonstrations and tests, inputs and outputs) fit 10x10",
                  [i for i in ids if fits(tasks[i], 10)]),
        "mixed50": (f"50 ARC-AGI-1 training tasks, random.Random({MIXED_SEED}).sample(sorted ids, 50), sorted",
                    sorted(random.Random(MIXED_SEED).sample(ids, 50))),
    }


def text(description, ids):
    return f"# {description}; {len(ids)} tasks. Made by make_dev_sets.py.\n" + "".join(i + "\n" for i in ids)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="arc-data")
    parser.add_argument("--check", action="store_true", help="compare with the committed lists instead of writing")
    args = parser.parse_args()
    failed = False
    for name, (description, ids) in make(args.data_dir).items():
        path = os.path.join(HERE, name + ".txt")
        if args.check:
            same = os.path.isfile(path) and open(path).read() == text(description, ids)
            print(f"{name}: {'same' if same else 'DIFFERENT'} ({len(ids)} tasks)")
            failed |= not same
        else:
            with open(path + ".tmp", "w") as f:
                f.write(text(description, ids))
            os.replace(path + ".tmp", path)
            print(f"wrote {path} ({len(ids)} tasks)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
