"""official_learn.py: the official sapientinc/HRM code on the learning benchmark's development set and budget.

The counterpart of Tools/bench/learn for the official code (github.com/sapientinc/HRM), on a CPU:
  1. dataset: its dataset/build_arc_dataset.py (convert_dataset) run on a temporary folder laid out
     so the development tasks are in the evaluation role (`<tmp>/evaluation/<id>.json`: their
     demonstrations go to the train split, their test pairs to the test split), canvas 30;
  2. training: its models/hrm/hrm_act_v1.py model inside models/losses.py's ACTLossHead (stablemax
     cross entropy), its CastedSparseEmbeddingSignSGD_Distributed for the puzzle embeddings and
     AdamATan2 for the rest, batches from its puzzle_dataset.PuzzleDataset, one step exactly as
     pretrain.py's train_batch (no distributed, no CUDA), until the time budget is used;
  3. evaluation: as pretrain.py's evaluate (model.eval(): every example runs halt_max_steps ACT
     steps), then arc_eval.ipynb's voting (undo the augmentation, vote by count then mean
     sigmoid(q_halt), top-2), scored against the task files' known test outputs;
and prints the same table as `learn`, and writes OUT/learn.json.

The official code is fetched at benchmark time, never copied into this repository: --official-repo
PATH, or by default `git clone --depth 1 https://github.com/sapientinc/HRM` into a temporary folder.
Without internet, export a local copy: `git -C COPY archive HEAD | tar -x -C DIR`, --official-repo DIR.

Settings: the project's presets mapped onto the official config (default `--preset cpu`: hidden
64, 2 heads, expansion 4, H/L layers 1/1, cycles 2/2, halt_max_steps 4, exploration 0.1, puzzle
embedding width 64, batch 16, lr 1e-3, warm-up 20, lr_min_ratio 1, weight decay 0.1, puzzle-emb
lr 1e-2 and weight decay 0.1, betas 0.9/0.95, epochs 100000 as cfg_pretrain.yaml), or exactly the
values of an arc-pipeline run (`--settings-from RUN/config.json`, what `learn --compare-official`
passes), with the project's option names as overrides. Both are printed side by side.

What differs from the official GPU run, and why (each is labelled STAND-IN in the output):
  - flash-attn does not run on a CPU: flash_attn_func is computed with torch's
    scaled_dot_product_attention (the approach and code of Tools/bench/official_vs_trainer.py).
  - The adam-atan2 package's update kernel is CUDA-only: its AdamATan2 class runs with a CPU
    update kernel computing the package's published formula (official_vs_trainer.py); without the
    package, a stand-in class with the same state and update.
  - forward_dtype float32 (the official default is bfloat16 on GPUs); no torch.compile.
  - The loader runs in the training process (the official DataLoader uses one worker process).
    One loader iteration holds 10000 epochs, the official ARC config's eval_interval.
  - argdantic (the dataset builder's command line) is replaced by a stub when not installed;
    convert_dataset is called directly. arc_eval.ipynb's crop (numba) is rewritten in Python.

Python needs torch, numpy and pydantic (adam-atan2 optional):
  python3 -m venv /tmp/venv-bench && /tmp/venv-bench/bin/pip install torch numpy pydantic adam-atan2
  /tmp/venv-bench/bin/python Tools/bench/official_learn.py --set dev10 --budget 30m --official-repo /tmp/HRM
The ARC-AGI-1 task files come from `arc-pipeline fetch arc-agi-1` (--data-dir, default arc-data).
"""
import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import learn_common as common  # noqa: E402

# The project's presets: HRMConfig.cpu / .cpuBench / .paper (Sources/HRM/HRMConfig.swift) and
# TrainerOptions.preset (Sources/Training/TrainerPresets.swift), under the official config's names.
PRESETS = {
    "cpu": dict(hidden_size=64, num_heads=2, H_layers=1, L_layers=1, halt_max_steps=4, global_batch_size=16,
                lr=1e-3, lr_warmup_steps=20),
    "cpu-bench": dict(hidden_size=128, num_heads=4, H_layers=2, L_layers=2, halt_max_steps=16, global_batch_size=8,
                      lr=1e-3, lr_warmup_steps=20),
    "paper": dict(hidden_size=512, num_heads=8, H_layers=4, L_layers=4, halt_max_steps=16, global_batch_size=768,
                  lr=1e-4, lr_warmup_steps=2000),
}
COMMON = dict(expansion=4.0, H_cycles=2, L_cycles=2, halt_exploration_prob=0.1, puzzle_emb_lr=1e-2, weight_decay=0.1,
              puzzle_emb_weight_decay=0.1, lr_min_ratio=1.0, beta1=0.9, beta2=0.95, epochs=100000,
              rms_norm_eps=1e-5, rope_theta=10000.0)
# (project option, official key, type): overrides with the project's option names.
OPTIONS = [
    ("--hidden-size", "hidden_size", int), ("--heads", "num_heads", int), ("--h-layers", "H_layers", int),
    ("--l-layers", "L_layers", int), ("--h-cycles", "H_cycles", int), ("--l-cycles", "L_cycles", int),
    ("--halt-max-steps", "halt_max_steps", int), ("--expansion", "expansion", float),
    ("--puzzle-emb-ndim", "puzzle_emb_ndim", int), ("--exploration", "halt_exploration_prob", float),
    ("--batch-size", "global_batch_size", int), ("--lr", "lr", float), ("--puzzle-emb-lr", "puzzle_emb_lr", float),
    ("--weight-decay", "weight_decay", float), ("--puzzle-emb-weight-decay", "puzzle_emb_weight_decay", float),
    ("--warmup-steps", "lr_warmup_steps", int), ("--lr-min-ratio", "lr_min_ratio", float), ("--epochs", "epochs", float),
]
MODEL_KEYS = ["hidden_size", "num_heads", "expansion", "H_layers", "L_layers", "H_cycles", "L_cycles", "halt_max_steps",
              "halt_exploration_prob", "puzzle_emb_ndim", "rms_norm_eps", "rope_theta"]
TRAINER_KEYS = ["global_batch_size", "lr", "lr_warmup_steps", "lr_min_ratio", "weight_decay", "beta1", "beta2",
                "puzzle_emb_lr", "puzzle_emb_weight_decay", "epochs"]
EPOCHS_PER_ITER = 10000  # config/cfg_pretrain.yaml eval_interval: pretrain.py's loader iteration
OFFICIAL_FILES = ["models/hrm/hrm_act_v1.py", "models/layers.py", "models/losses.py", "models/sparse_embedding.py",
                  "models/common.py", "puzzle_dataset.py", "dataset/build_arc_dataset.py", "dataset/common.py", "pretrain.py",
                  "arc_eval.ipynb"]
MADE_HERE = {"dataset", "metrics.jsonl", common.RESULT_FILE, "logs"}


def settings_from_project_config(path):
    """The official config's values from an arc-pipeline run's config.json (the resolved settings)."""
    run = common.run_settings(path)
    official = dict(batch_size="global_batch_size", warmup_steps="lr_warmup_steps")
    named = {official.get(name, name): value for name, value in run.items()}
    return {key: named[key] for key in MODEL_KEYS + TRAINER_KEYS}, run


def settings_lines(settings, project_settings):
    """Side by side: the arc-pipeline value (the run's config.json, or the preset) and the official config key/value."""
    project_names = {key: option for option, key, _ in OPTIONS}
    lines = [f"{'setting':30} {'arc-pipeline':>14}   official config"]
    for key in MODEL_KEYS + TRAINER_KEYS:
        ours = project_settings.get(key, settings[key])
        mark = "" if ours == settings[key] else "   (overridden here)"
        lines.append(f"{project_names.get(key, key):30} {str(ours):>14}   {key} = {settings[key]}{mark}")
    lines.append(f"{'forward dtype':30} {'float32':>14}   forward_dtype = float32 (official default bfloat16)")
    lines.append(f"{'loss':30} {'stablemax':>14}   loss_type = stablemax_cross_entropy")
    return lines


# ---------------------------------------------------------------- the official code

def official_repo(args, temporary):
    if args.official_repo:
        repo = os.path.abspath(args.official_repo)
    else:
        repo = os.path.join(temporary, "HRM")
        command = ["git", "clone", "--depth", "1", "https://github.com/sapientinc/HRM", repo]
        print(f"$ {' '.join(command)}", flush=True)
        if subprocess.run(command).returncode != 0:
            common.fail("git clone https://github.com/sapientinc/HRM failed; without internet, export a copy "
                        "(git -C COPY archive HEAD | tar -x -C DIR) and give --official-repo DIR")
    for relative in OFFICIAL_FILES:
        if not os.path.isfile(os.path.join(repo, relative)):
            common.fail(f"--official-repo {repo}: no {relative} (expected a checkout of github.com/sapientinc/HRM)")
    digest = hashlib.sha256()
    for relative in OFFICIAL_FILES:
        with open(os.path.join(repo, relative), "rb") as f:
            digest.update(relative.encode() + b"\0" + f.read())
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True)
    return repo, dict(path=repo, commit=commit.stdout.strip() if commit.returncode == 0 else "unknown (not a git checkout)",
                      files_sha256=digest.hexdigest(), files=OFFICIAL_FILES)


def install_stand_ins(repo):
    """flash-attn and AdamATan2 stand-ins (official_vs_trainer.py), argdantic stub; the official code on sys.path."""
    import official_vs_trainer as stand_ins
    stand_ins.install_flash_attn_stand_in()
    adam_class, adam_note = stand_ins.load_adam_atan2()
    notes = ["flash-attn: STAND-IN flash_attn_func computed with torch scaled_dot_product_attention",
             f"AdamATan2: {adam_note}"]
    try:
        import argdantic  # noqa: F401
    except ImportError:
        module = types.ModuleType("argdantic")

        class ArgParser:
            """STAND-IN for argdantic.ArgParser: only the decorator build_arc_dataset.py applies."""

            def command(self, *unused, **unused_keywords):
                return lambda function: function

            def __call__(self):
                raise SystemExit("argdantic stub: call convert_dataset directly")

        module.ArgParser = ArgParser
        sys.modules["argdantic"] = module
        notes.append("argdantic: STAND-IN stub (the builder's convert_dataset is called directly)")
    sys.path.insert(0, repo)
    sys.path.insert(1, os.path.join(repo, "dataset"))  # build_arc_dataset.py imports `common` from its folder
    return adam_class, notes


def build_official_dataset(repo, tasks_folder, ids, out, num_aug, dataset_seed, temporary):
    """build_arc_dataset.convert_dataset on `<tmp>/raw/evaluation/<id>.json` (the dev tasks in the evaluation role)."""
    raw = os.path.join(temporary, "raw")
    os.makedirs(os.path.join(raw, "evaluation"))
    for task_id in ids:
        shutil.copyfile(os.path.join(tasks_folder, task_id + ".json"), os.path.join(raw, "evaluation", task_id + ".json"))
    import build_arc_dataset
    config = build_arc_dataset.DataProcessConfig(dataset_dirs=[raw], output_dir=out, seed=dataset_seed, num_aug=num_aug)
    build_arc_dataset.convert_dataset(config)
    return dict(dataset_dirs=[raw + " (temporary: evaluation/<id>.json per task)"], output_dir=out, seed=dataset_seed,
                num_aug=num_aug)


def learning_rate(base, step, total_steps, settings):
    """pretrain.py's cosine_schedule_with_warmup_lr_lambda, as compute_lr calls it."""
    warmup = round(settings["lr_warmup_steps"])
    if step < warmup:
        return base * float(step) / float(max(1, warmup))
    progress = float(step - warmup) / float(max(1, total_steps - warmup))
    ratio = settings["lr_min_ratio"]
    return base * (ratio + max(0.0, (1 - ratio) * 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress))))


def train(args, settings, dataset, adam_class, out):
    import torch
    from models.hrm.hrm_act_v1 import HierarchicalReasoningModel_ACTV1
    from models.losses import ACTLossHead
    from models.sparse_embedding import CastedSparseEmbeddingSignSGD_Distributed
    from puzzle_dataset import PuzzleDataset, PuzzleDatasetConfig

    import numpy as np
    torch.random.manual_seed(args.seed)  # pretrain.py: config.seed + RANK
    np.random.seed(args.seed)  # the loader's np.random.choice (in pretrain.py, its worker's unseeded state): reruns repeat
    batch_size = settings["global_batch_size"]
    loader = PuzzleDataset(PuzzleDatasetConfig(seed=args.seed, dataset_path=dataset, global_batch_size=batch_size,
                                               test_set_mode=False, epochs_per_iter=EPOCHS_PER_ITER, rank=0,
                                               num_replicas=1), split="train")
    meta = loader.metadata
    total_steps = int(settings["epochs"] * meta.total_groups * meta.mean_puzzle_examples / batch_size)
    model_config = dict({k: settings[k] for k in MODEL_KEYS}, pos_encodings="rope", batch_size=batch_size,
                        vocab_size=meta.vocab_size, seq_len=meta.seq_len, num_puzzle_identifiers=meta.num_puzzle_identifiers,
                        causal=False, forward_dtype="float32")
    model = ACTLossHead(HierarchicalReasoningModel_ACTV1(model_config), loss_type="stablemax_cross_entropy")
    optimizers = [
        CastedSparseEmbeddingSignSGD_Distributed(model.model.puzzle_emb.buffers(), lr=0,
                                                 weight_decay=settings["puzzle_emb_weight_decay"], world_size=1),
        adam_class(model.parameters(), lr=0, weight_decay=settings["weight_decay"],
                   betas=(settings["beta1"], settings["beta2"])),
    ]
    base_rates = [settings["puzzle_emb_lr"], settings["lr"]]
    parameters = sum(p.numel() for p in model.parameters())
    print(f"official: training {parameters} parameters (+ puzzle embeddings {meta.num_puzzle_identifiers} x "
          f"{settings['puzzle_emb_ndim']}) on seq {meta.seq_len}, batch {batch_size}, budget {args.budget}", flush=True)

    metrics_path = os.path.join(out, "metrics.jsonl")
    log = open(metrics_path, "w", encoding="utf-8")
    window = common.MetricsWindow()
    step, carry, lr = 0, None, 0.0
    stop_reason = None
    model.train()
    start = time.perf_counter()
    while stop_reason is None:
        produced = False
        for _set_name, batch, _global_batch in loader:  # one loader iteration: EPOCHS_PER_ITER epochs
            if time.perf_counter() - start >= args.budget_seconds:
                stop_reason = f"time budget of {int(args.budget_seconds)} s used"
                break
            produced = True
            # pretrain.py train_batch, single process, on the CPU.
            step += 1
            if step > total_steps:
                stop_reason = f"reached the schedule's {total_steps} steps"
                step -= 1
                break
            if carry is None:
                carry = model.initial_carry(batch)
            carry, loss, metrics, _, _ = model(carry=carry, batch=batch, return_keys=[])
            ((1 / batch_size) * loss).backward()
            for optimizer, base in zip(optimizers, base_rates):
                lr = learning_rate(base, step, total_steps, settings)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                optimizer.step()
                optimizer.zero_grad()
            keys = sorted(metrics)
            values = torch.stack([metrics[k].to(torch.float64) for k in keys]).cpu().numpy().tolist()
            values = dict(zip(keys, values))
            if not math.isfinite(values["lm_loss"]):
                common.fail(f"official training: lm_loss is not finite at step {step}")
            window.add(values, batch_size, batch_size * meta.seq_len)
            if step % args.log_interval == 0:
                record = window.record(step, lr, time.perf_counter() - start)
                log.write(json.dumps(record) + "\n")
                log.flush()
                print(f"  step {step}  lm_loss {record['lm_loss']:.4f}  acc {record['accuracy']:.3f}  exact "
                      f"{record['exact_accuracy']:.3f}  act {record['steps']:.1f}  {record['tokens_per_second']:.0f} tok/s  "
                      f"elapsed {record['elapsed_seconds']:.0f} s", flush=True)
                window = common.MetricsWindow()
        if not produced and stop_reason is None:
            common.fail("the official loader gave no full batch (the train split holds fewer examples than "
                        f"{EPOCHS_PER_ITER} epochs x batch {batch_size}?)")
    train_seconds = time.perf_counter() - start
    if window.steps:
        log.write(json.dumps(window.record(step, lr, train_seconds)) + "\n")
    log.close()
    return model, dict(steps=step, train_seconds=train_seconds, stop_reason=stop_reason, total_steps=total_steps,
                       parameters=parameters, seq_len=meta.seq_len, num_puzzle_identifiers=meta.num_puzzle_identifiers)


def evaluate(settings, dataset, model, seed):
    """pretrain.py's evaluate on the CPU: test split, model.eval() (halt_max_steps ACT steps), the outputs arc_eval keeps."""
    import numpy as np
    import torch
    from puzzle_dataset import PuzzleDataset, PuzzleDatasetConfig
    loader = PuzzleDataset(PuzzleDatasetConfig(seed=seed, dataset_path=dataset, global_batch_size=settings["global_batch_size"],
                                               test_set_mode=True, epochs_per_iter=1, rank=0, num_replicas=1), split="test")
    kept = {k: [] for k in ("puzzle_identifiers", "inputs", "labels", "preds", "q_halt_logits")}
    model.eval()
    act_steps = 0
    with torch.inference_mode():
        for _set_name, batch, _global_batch in loader:
            carry = model.initial_carry(batch)
            steps = 0
            while True:
                carry, _, _metrics, preds, all_finish = model(carry=carry, batch=batch, return_keys=["logits", "q_halt_logits"])
                steps += 1
                if all_finish:
                    break
            act_steps = max(act_steps, steps)
            kept["puzzle_identifiers"].append(batch["puzzle_identifiers"].numpy())
            kept["inputs"].append(batch["inputs"].numpy())
            kept["labels"].append(batch["labels"].numpy())
            kept["preds"].append(preds["logits"].argmax(-1).numpy())  # arc_eval: all_preds["logits"].argmax(-1)
            kept["q_halt_logits"].append(preds["q_halt_logits"].numpy())
    arrays = {k: np.concatenate(v, 0) for k, v in kept.items()}
    mask = arrays["puzzle_identifiers"] != 0  # arc_eval: drop the padding (PAD_PUZZLE_IDENTIFIER 0)
    return {k: v[mask] for k, v in arrays.items()}, act_steps


# ---------------------------------------------------------------- arc_eval.ipynb's voting

def crop(grid):
    """arc_eval.ipynb's crop (numba there): the largest top-left rectangle without PAD/EOS tokens, minus 2."""
    import numpy as np
    grid = grid.reshape(30, 30)
    max_area, max_size = 0, (0, 0)
    num_c = 30
    for num_r in range(1, 31):
        for c in range(1, num_c + 1):
            x = grid[num_r - 1, c - 1]
            if (x < 2) | (x > 11):
                num_c = c - 1
                break
        area = num_r * num_c
        if area > max_area:
            max_area, max_size = area, (num_r, num_c)
    return (grid[:max_size[0], :max_size[1]] - 2).astype(np.int64)


def inverse_aug(name, grid):
    """arc_eval.ipynb's inverse_aug: undo the colour permutation and the dihedral transform named in the puzzle name."""
    import numpy as np
    from common import inverse_dihedral_transform  # the official dataset/common.py
    if "_" not in name:
        return grid
    trans_id, perm = name.split("_")[-2:]
    trans_id = int(trans_id[1:])
    inv_perm = np.argsort(list(perm))
    return inv_perm[inverse_dihedral_transform(grid, trans_id)]


def vote(arrays, identifiers, tasks):
    """arc_eval.ipynb's test(): candidates per test input ranked by (count, mean sigmoid(q_halt)); its k-shot
    task scores for k = 1, 2 (from the dataset's labels), and the top-2 grids per test input of each task."""
    import numpy as np

    def key(grid):
        return (grid.tobytes(), grid.shape)

    labels_by_task, grids = {}, {}
    for identifier, inputs, label in zip(arrays["puzzle_identifiers"], arrays["inputs"], arrays["labels"]):
        name = identifiers[identifier]
        if "_" not in name:
            inp, lab = crop(inputs), crop(label)
            grids[key(inp)], grids[key(lab)] = inp, lab
            labels_by_task.setdefault(name, {})[key(inp)] = key(lab)
    q = 1 / (1 + np.exp(-arrays["q_halt_logits"].astype(np.float64)))
    answers = {}
    for identifier, inputs, pred, q_value in zip(arrays["puzzle_identifiers"], arrays["inputs"], arrays["preds"], q):
        name = identifiers[identifier]
        original = name.split("_")[0]
        input_key = key(inverse_aug(name, crop(inputs)))
        if input_key not in labels_by_task.get(original, {}):
            common.fail(f"official voting: an augmented test input of {name} does not map back to a test input of {original}")
        grid = inverse_aug(name, crop(pred))
        grids[key(grid)] = grid
        answers.setdefault(original, {}).setdefault(input_key, []).append((key(grid), float(q_value)))
    notebook = {1: 0, 2: 0}
    attempts = {}
    for name, tests in labels_by_task.items():
        correct = {1: 0, 2: 0}
        ranked_by_input = {}
        for input_key, label_key in tests.items():
            tally = {}
            for grid_key, q_value in answers[name][input_key]:
                entry = tally.setdefault(grid_key, [0, 0.0])
                entry[0] += 1
                entry[1] += q_value
            for entry in tally.values():
                entry[1] /= entry[0]
            ranked = sorted(tally.items(), key=lambda kv: kv[1], reverse=True)
            ranked_by_input[input_key] = ranked
            for k in (1, 2):
                correct[k] += any(h == label_key for h, _ in ranked[:k])
        for k in (1, 2):
            notebook[k] += correct[k] == len(tests)
        task = tasks.get(name)
        if task is not None:
            per_test = []
            for pair in task["test"]:
                ranked = ranked_by_input.get(key(np.array(pair["input"], dtype=np.int64)), [])
                per_test.append([grids[h].tolist() for h, _ in ranked[:2]] + [None] * (2 - len(ranked[:2])))
            attempts[name] = per_test
    return attempts, dict(tasks=len(labels_by_task), pass_at_1_tasks=notebook[1], pass_at_2_tasks=notebook[2])


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.split("\n")[1:]))
    parser.add_argument("--set", default="dev10", help="development set: dev10, mixed50 or a file of task ids")
    parser.add_argument("--budget", default="30m", help="training time budget: 90s, 10m, 1h30m (default 30m)")
    parser.add_argument("--seed", type=int, default=0, help="training seed (pretrain.py seed; default 0)")
    parser.add_argument("--dataset-seed", type=int, default=42, help="build_arc_dataset seed (default 42)")
    parser.add_argument("--num-aug", type=int, default=4, help="augmentations per task (default 4)")
    parser.add_argument("--preset", default="cpu", choices=sorted(PRESETS), help="the project's preset to map (default cpu)")
    parser.add_argument("--settings-from", help="an arc-pipeline run's config.json: use exactly its model and trainer values")
    for option, key, kind in OPTIONS:
        parser.add_argument(option, dest=key, type=kind, help=f"override {key}")
    parser.add_argument("--official-repo", help="checkout of github.com/sapientinc/HRM (default: git clone into a temporary folder)")
    parser.add_argument("--data-dir", default=os.path.join(common.REPO, "arc-data"), help="fetched data (arc-pipeline fetch arc-agi-1)")
    parser.add_argument("--out", help="result folder (default submissions/official-learn-<set>-<budget>)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default all cores)")
    parser.add_argument("--log-interval", type=int, default=10, help="steps per metrics line (default 10)")
    parser.add_argument("--force", action="store_true", help="replace an earlier result in --out")
    args = parser.parse_args()

    set_name, ids = common.read_dev_set(args.set)
    args.budget_seconds = common.parse_budget(args.budget)
    if args.threads < 1 or args.num_aug < 1 or args.log_interval < 1:
        common.fail("--threads, --num-aug and --log-interval must be at least 1")
    tasks_folder = os.path.join(os.path.abspath(args.data_dir), "arc-agi-1", "training")
    tasks = common.load_tasks(tasks_folder, ids)
    try:
        import numpy  # noqa: F401
        import pydantic  # noqa: F401
        import torch
    except ImportError as error:
        common.fail(f"{error}: this script needs torch, numpy and pydantic: python3 -m venv /tmp/venv-bench && "
                    "/tmp/venv-bench/bin/pip install torch numpy pydantic adam-atan2")
    if args.settings_from:
        settings, _project_config = settings_from_project_config(args.settings_from)
    else:
        settings = dict(COMMON, **PRESETS[args.preset])
        settings["puzzle_emb_ndim"] = settings["hidden_size"]
    project_settings = dict(settings)  # with --settings-from, the run's values; overrides below apply here only
    for _option, key, _kind in OPTIONS:
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
            if key == "hidden_size" and args.puzzle_emb_ndim is None and not args.settings_from:
                settings["puzzle_emb_ndim"] = value
    if not args.settings_from:
        project_settings = dict(settings)  # the same options given to arc-pipeline give these values
    out = os.path.abspath(args.out or os.path.join(common.REPO, "submissions", f"official-learn-{set_name}-{args.budget}"))
    data_dir = os.path.realpath(args.data_dir)
    if os.path.realpath(out) == data_dir or os.path.realpath(out).startswith(data_dir + os.sep):
        common.fail(f"--out {out}: inside the data folder {args.data_dir}; results never go there")
    common.prepare_out(out, args.force, MADE_HERE)
    torch.set_num_threads(args.threads)

    temporary = tempfile.mkdtemp(prefix="official-learn-")
    try:
        repo, repo_info = official_repo(args, temporary)
        adam_class, notes = install_stand_ins(repo)
        print(f"official code: {repo} (commit {repo_info['commit']}, files sha256 {repo_info['files_sha256'][:12]})")
        for note in notes:
            print(f"  {note}")
        print("settings (the official config's values on the right):")
        for line in settings_lines(settings, project_settings):
            print("  " + line)
        load_before = list(os.getloadavg())
        timings = {}
        dataset = os.path.join(out, "dataset")
        start = time.perf_counter()
        builder = build_official_dataset(repo, tasks_folder, ids, dataset, args.num_aug, args.dataset_seed, temporary)
        timings["build_dataset"] = time.perf_counter() - start

        start = time.perf_counter()
        model, train_info = train(args, settings, dataset, adam_class, out)
        timings["train"] = time.perf_counter() - start

        start = time.perf_counter()
        arrays, act_steps = evaluate(settings, dataset, model, args.seed)
        timings["evaluate"] = time.perf_counter() - start

        start = time.perf_counter()
        with open(os.path.join(dataset, "identifiers.json")) as f:
            identifiers = json.load(f)
        attempts, notebook = vote(arrays, identifiers, tasks)
        scores = common.score_attempts(tasks, attempts)
        timings["vote_and_score"] = time.perf_counter() - start
    finally:
        shutil.rmtree(temporary, ignore_errors=True)

    # arc_eval's k-shot task scores (from the dataset's labels) must agree with the task files' test outputs.
    full_at_1 = sum(all(a for a, _ in marks) for marks in scores["per_task"].values())
    if notebook["tasks"] != len(ids) or notebook["pass_at_2_tasks"] != scores["tasks_fully_solved"] or notebook["pass_at_1_tasks"] != full_at_1:
        common.fail(f"arc_eval's scores {notebook} disagree with the task files' ({scores['tasks_fully_solved']} fully solved at 2, {full_at_1} at 1)")
    scores["checks"] = [f"arc_eval.ipynb k-shot (labels from the dataset): {notebook['pass_at_1_tasks']} tasks at 1, "
                        f"{notebook['pass_at_2_tasks']} at 2, of {notebook['tasks']}; agrees with the task files' test outputs"]
    training = common.training_summary(common.read_metrics(os.path.join(out, "metrics.jsonl")))
    training.update(steps=train_info["steps"], train_seconds=train_info["train_seconds"], stop_reason=train_info["stop_reason"],
                    schedule_total_steps=train_info["total_steps"])
    result = dict(
        side="official", set=set_name, task_ids=ids, budget=args.budget, budget_seconds=args.budget_seconds, seed=args.seed,
        dataset_seed=args.dataset_seed,
        settings=dict(settings, num_aug=args.num_aug, canvas=30, parameters=train_info["parameters"], seq_len=train_info["seq_len"],
                      threads=args.threads, forward_dtype="float32", settings_from=args.settings_from or f"preset {args.preset}"),
        official=repo_info, stand_ins=notes, builder=builder, timings=timings, training=training, scores=scores,
        evaluation=dict(examples=int(len(arrays["preds"])), halt_max_steps=act_steps),
        machine=dict(common.machine(), load_average_before=load_before, torch=torch.__version__),
    )
    common.write_json(os.path.join(out, common.RESULT_FILE), result)
    print()
    print(common.header_line(result))
    for line in common.table_lines([result]):
        print(line)
    print(f"result: {os.path.join(out, common.RESULT_FILE)}")


if __name__ == "__main__":
    main()
