#!/usr/bin/env python3
"""Builds the DEMO inputs of `arc-pipeline report` used for the screenshots in docs/.

Not a real run: it copies 8 small ARC-AGI-1 evaluation tasks, crafts a candidate table
(predictions.jsonl) and a submission from their known solutions plus deterministic wrong
candidates (one scenario per task: solved at rank 1, solved by attempt 2, truth at rank 4,
no candidate, near miss, wrong shape, ...), and writes SYNTHETIC training metrics
(metrics.jsonl) and a config.json. Every page built from it says "DEMO" in its caption.

usage: python3 docs/report-demo.py ARC-AGI-1/data/evaluation OUT_DIR
       python3 docs/report-demo.py --large KAGGLE_DIR OUT_DIR   (stress page: all 120 ARC-AGI-2
       evaluation tasks, 1000 predictions per test input spread over 300 candidates; truth ranked
       1st, 2nd, 4th or absent in turn, every 9th test input without a candidate)
writes OUT_DIR/tasks/<id>.json, OUT_DIR/submission/{submission.json,predictions.jsonl,evaluation.json},
       OUT_DIR/run/{config.json,metrics.jsonl}
"""
import json
import math
import os
import random
import sys

TASKS = ["00576224", "0c786b71", "31d5ba1a", "3b4c2228", "66e6c45b", "0becf7df", "2072aba6", "6ea4a07e"]
rng = random.Random(2025)


def perturb(grid, cells):
    """The grid with `cells` distinct cells recoloured."""
    g = [row[:] for row in grid]
    spots = [(r, c) for r in range(len(g)) for c in range(len(g[0]))]
    for r, c in rng.sample(spots, min(cells, len(spots))):
        g[r][c] = (g[r][c] + rng.randint(1, 9)) % 10
    return g


def transpose(grid):
    return [list(row) for row in zip(*grid)]


def candidates_for(task_id, k, truth, test_input):
    """(candidates best first as (grid, votes, mean_q), undecodable) for one test input."""
    t = truth
    wrong1, wrong2, wrong3 = perturb(t, 1), perturb(t, 3), perturb(t, 6)
    scenario = {
        "00576224": [(t, 41, 0.93), (wrong1, 12, 0.61), (wrong2, 5, 0.40)],
        "0c786b71": [(wrong1, 30, 0.72), (t, 22, 0.81), (wrong2, 9, 0.33), (wrong3, 2, 0.20)],
        "31d5ba1a": [(t, 55, 0.88), (wrong1, 6, 0.35)] if k == 0 else
                    [(wrong1, 20, 0.55), (wrong2, 14, 0.52), (wrong3, 11, 0.41), (t, 9, 0.47), (perturb(t, 2), 4, 0.30),
                     (perturb(t, 4), 3, 0.22), (perturb(t, 5), 2, 0.18), (perturb(t, 7), 1, 0.12), (perturb(t, 8), 1, 0.10)],
        "3b4c2228": [(transpose(test_input) if k == 0 else perturb(t, 2), 18, 0.44), (wrong2, 15, 0.39), (wrong3, 7, 0.21)],
        "66e6c45b": [(t, 64, 0.97)],
        "0becf7df": [],
        "2072aba6": [(perturb(t, 2), 37, 0.58), (perturb(t, 4), 19, 0.50), (wrong3, 3, 0.25)],
        "6ea4a07e": [(t, 48, 0.91), (wrong1, 10, 0.52)],
    }[task_id]
    votes = sum(v for _, v, _ in scenario)
    return scenario, 64 - votes if votes < 64 else rng.randint(0, 3)


def large(kaggle, out):
    with open(os.path.join(kaggle, "arc-agi_evaluation_challenges.json")) as f:
        challenges = json.load(f)
    with open(os.path.join(kaggle, "arc-agi_evaluation_solutions.json")) as f:
        solutions = json.load(f)
    for sub in ("tasks", "submission"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    submission, lines, n = {}, [], 0
    for tid in sorted(challenges):
        task = challenges[tid]
        for k, pair in enumerate(task["test"]):
            pair["output"] = solutions[tid][k]
        with open(os.path.join(out, "tasks", tid + ".json"), "w") as f:
            json.dump(task, f)
        entries = []
        for k, pair in enumerate(task["test"]):
            t = pair["output"]
            n += 1
            cands = []
            if n % 9 != 0:
                votes = [400, 200, 100] + [1] * 297
                grids = [perturb(t, 1 + i % 5) for i in range(300)]
                where = [0, 1, 3, None][n % 4]
                if where is not None:
                    grids[where] = t
                cands = [(g, v, round(0.9 - i * 0.002, 4)) for i, (g, v) in enumerate(zip(grids, votes))]
            lines.append({"task": tid, "test_index": k, "undecodable": 0 if cands else 1000,
                          "candidates": [{"grid": g, "votes": v, "mean_q": q} for g, v, q in cands]})
            a1 = cands[0][0] if cands else pair["input"]
            a2 = cands[1][0] if cands else pair["input"]
            entries.append({"attempt_1": a1, "attempt_2": a2})
        submission[tid] = entries
    sub_dir = os.path.join(out, "submission")
    with open(os.path.join(sub_dir, "submission.json"), "w") as f:
        json.dump(submission, f)
    with open(os.path.join(sub_dir, "predictions.jsonl"), "w") as f:
        for line in lines:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")
    with open(os.path.join(sub_dir, "evaluation.json"), "w") as f:
        json.dump({"challenges": {"format": "directory", "path": os.path.abspath(os.path.join(out, "tasks")), "split": None},
                   "run": None, "scores": None}, f, indent=1)


def main():
    if sys.argv[1] == "--large":
        large(sys.argv[2], sys.argv[3])
        return
    src, out = sys.argv[1], sys.argv[2]
    for sub in ("tasks", "submission", "run"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    submission, lines = {}, []
    for tid in TASKS:
        with open(os.path.join(src, tid + ".json")) as f:
            task = json.load(f)
        with open(os.path.join(out, "tasks", tid + ".json"), "w") as f:
            json.dump(task, f)
        entries = []
        for k, pair in enumerate(task["test"]):
            cands, undecodable = candidates_for(tid, k, pair["output"], pair["input"])
            cands.sort(key=lambda c: (-c[1], -c[2]))
            lines.append({"task": tid, "test_index": k, "undecodable": undecodable,
                          "candidates": [{"grid": g, "votes": v, "mean_q": q} for g, v, q in cands]})
            if cands:
                a1 = cands[0][0]
                a2 = cands[1][0] if len(cands) > 1 else a1
            else:  # no candidate: the fallback (the test input) fills both attempts
                a1 = a2 = pair["input"]
            entries.append({"attempt_1": a1, "attempt_2": a2})
        submission[tid] = entries
    sub_dir = os.path.join(out, "submission")
    with open(os.path.join(sub_dir, "submission.json"), "w") as f:
        json.dump(submission, f)
    with open(os.path.join(sub_dir, "predictions.jsonl"), "w") as f:
        for line in lines:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")
    with open(os.path.join(sub_dir, "evaluation.json"), "w") as f:
        json.dump({"challenges": {"format": "directory", "path": os.path.abspath(os.path.join(out, "tasks")), "split": None},
                   "run": os.path.abspath(os.path.join(out, "run")), "scores": None}, f, indent=1)

    # Synthetic metrics: smooth curves plus noise, 2000 steps logged every 10.
    config = {"preset": "cpu", "dataset": "arc-agi-1 (demo)", "hidden_size": 128, "num_heads": 4, "H_layers": 2,
              "L_layers": 2, "H_cycles": 2, "L_cycles": 2, "halt_max_steps": 8, "batch_size": 32, "lr": 1e-4,
              "puzzle_emb_lr": 1e-2, "steps": 2000, "train_seconds": 5400.0, "seed": 0, "num_aug": 64,
              "weight_decay": 0.1, "warmup_steps": 100, "note": "DEMO config, not a real run"}
    with open(os.path.join(out, "run", "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    with open(os.path.join(out, "run", "metrics.jsonl"), "w") as f:
        for step in range(10, 2001, 10):
            p = step / 2000
            lr = 1e-4 * min(1.0, step / 100)
            rec = {"step": step, "epoch": step // 200, "lr": lr,
                   "lm_loss": 2.2 * math.exp(-3 * p) + 0.25 + rng.gauss(0, 0.03),
                   "q_halt_loss": 0.69 * math.exp(-2 * p) + 0.1 + rng.gauss(0, 0.02),
                   "q_continue_loss": 0.3 * math.exp(-1.5 * p) + 0.05 + rng.gauss(0, 0.01),
                   "accuracy": min(1, 0.55 + 0.4 * (1 - math.exp(-4 * p)) + rng.gauss(0, 0.01)),
                   "exact_accuracy": max(0, 0.6 * (1 - math.exp(-2.5 * p)) + rng.gauss(0, 0.02)),
                   "q_halt_accuracy": min(1, 0.5 + 0.42 * (1 - math.exp(-3 * p)) + rng.gauss(0, 0.015)),
                   "steps": 8 - 4.5 * (1 - math.exp(-2 * p)) + rng.gauss(0, 0.1),
                   "tokens_per_second": 9000 + rng.gauss(0, 300), "elapsed_seconds": 5400 * p}
            if step % 500 == 0:
                del rec["q_continue_loss"]  # keys may be missing on a line
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
