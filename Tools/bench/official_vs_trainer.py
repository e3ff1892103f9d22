"""Side by side, in one run: the official HRM or TRM training step (PyTorch, CPU) against arc-pipeline's trainer.

Runs back to back, on the same built dataset and the same configuration, with --arch hrm (the
default; cpu-bench: hidden 128, 4 heads, expansion 4, H/L layers 2/2, H/L cycles 2/2, ACT max 16
steps, exploration 0.1, puzzle embedding width 128, batch 8, seq 900, fp32, 2 threads):
  1. the official sapientinc/HRM model and loss head, eager;
  2. the same under torch.compile(dynamic=False), as the official pretrain.py does;
  3. `arc-pipeline train --preset cpu-bench --precision fp32` (the real trainer, a subprocess), and
     with --precision bf16 as well on a CPU with bf16 matmul instructions (--precisions);
and prints tokens/s for each, the ratios arc-pipeline / official, and the machine: CPU model
(lscpu), BLAS kernel set (`arc-pipeline system`), torch version and load average.

One step, for both sides, is what the official pretrain.py's train_batch does: one ACT segment
forward (the inner step with its 1-step gradient, plus the no-gradient inner step for the
Q-continue target), ACTLossHead with stablemax cross entropy, backward, the AdamATan2 step and
the puzzle-embedding sign-SGD step. Tokens per step = batch x seq_len (puzzle-embedding positions
not counted), the same count arc-pipeline writes to metrics.jsonl.

The official code is imported, unmodified, from a checkout given with --hrm-dir (its `models/`
folder: hrm/hrm_act_v1.py, layers.py, losses.py, sparse_embedding.py, common.py); nothing of
it is copied here. Get one with:
    git clone https://github.com/sapientinc/HRM /path/to/HRM

--arch trm does the same for the Tiny Recursive Model (docs/SPEC.md §9) with the official
SamsungSAILMontreal/TinyRecursiveModels code from a checkout given with --trm-dir
(models/recursive_reasoning/trm.py, layers.py, losses.py, sparse_embedding.py, ema.py, common.py),
and `arc-pipeline train --arch trm --preset cpu-bench` as the third run. The TRM cpu-bench
configuration: hidden 128, 4 heads, expansion 4, L_layers 2 (one network, no H network),
H_cycles 3, L_cycles 4, 16 puzzle tokens (puzzle embedding width 128 = hidden, so S = 916),
ACT max 16 steps, exploration 0.1, no_ACT_continue (no Q-continue target step, loss lm_loss +
0.5 q_halt_loss), trainer settings as HRM's cpu-bench, batch 8, seq 900, fp32, 2 threads. One
step is train_batch as for HRM (forward through the whole last H cycle with gradient, the H_cycles
- 1 cycles before it without) followed by the official weight EMA update (models/ema.py EMAHelper,
mu 0.999, registered on the model after torch.compile as pretrain.py does with `ema=True`, the
setting of every ARC command in the official README), timed as part of the step. Tokens per step
= batch x 900 (the 16 puzzle tokens not counted), as for HRM. Get the code with:
    git clone https://github.com/SamsungSAILMontreal/TinyRecursiveModels /path/to/TRM

What differs from a GPU run of the official code, and why:
  - flash-attn does not run on a CPU: a stand-in `flash_attn_interface` module is put in
    sys.modules before models/layers.py imports it. Its flash_attn_func(q, k, v, causal) takes
    and returns [batch, seq, heads, head_dim] like flash-attn and computes the same attention
    (softmax scale 1/sqrt(head_dim), no dropout) with torch's scaled_dot_product_attention.
    (The TRM code calls scaled_dot_product_attention itself; the stand-in is installed for it
    only if its models/layers.py fails to import for want of flash-attn.)
  - AdamATan2: the `adam-atan2` package's optimizer class is used when installed, but its update
    kernel (`adam_atan2_backend`) is CUDA-only, so a stand-in backend module computes the
    package's published formula (the reference implementation in its adam_atan2_test.py) with
    torch ops on the CPU. Without the package, a stand-in optimizer class with the same state
    and the same backend is used. Both are labelled STAND-IN in the output.
  - forward_dtype is float32 (the official default is bfloat16 for GPUs), a config field.
  - Batches are drawn at random from the dataset's train split before timing (the official
    loader runs in a separate worker process); labels equal to the dataset's ignore_label_id
    become -100 as in the official puzzle_dataset.py.
  - The learning rate follows pretrain.py's schedule with the cpu-bench trainer settings
    (lr 1e-3, puzzle-embedding lr 1e-2, warm-up 20 steps, lr_min_ratio 1, weight decay 0.1,
    betas 0.9/0.95).

--skip-arc-pipeline runs only the PyTorch side (no arc-pipeline executable needed; without
--dataset, give --synthetic: batches of uniformly random tokens of the cpu-bench shape, seq 900,
vocabulary 12, 1000 puzzle identifiers; the step time does not depend on the values, the
lm_loss printed then means nothing).

Python needs: torch, pydantic, numpy (adam-atan2 optional; einops for --arch trm). Example:
    swift build -c release
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch pydantic numpy einops adam-atan2
    /tmp/venv/bin/python Tools/bench/official_vs_trainer.py --hrm-dir /path/to/HRM \\
        --mirror /path/to/arc-mirror --warmup 3 --steps 20
    /tmp/venv/bin/python Tools/bench/official_vs_trainer.py --arch trm --trm-dir /path/to/TRM \\
        --mirror /path/to/arc-mirror --warmup 3 --steps 20
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import learn_common as common  # noqa: E402  (standard library only: reads the run's config.json)

# cpu-bench: HRMConfig.cpuBench (Sources/HRM/HRMConfig.swift) and the cpu-bench trainer preset
# (Sources/Training/TrainerPresets.swift).
CPU_BENCH_MODEL = dict(
    hidden_size=128, num_heads=4, expansion=4, H_layers=2, L_layers=2, H_cycles=2, L_cycles=2,
    halt_max_steps=16, halt_exploration_prob=0.1, puzzle_emb_ndim=128, pos_encodings="rope",
    rms_norm_eps=1e-5, rope_theta=10000.0,
)
# The TRM variant of cpu-bench (`train --arch trm --preset cpu-bench`, docs/SPEC.md §9): one network
# of L_layers 2 (H_layers is ignored by the official code), 16 puzzle tokens, no Q-continue target.
CPU_BENCH_TRM_MODEL = dict(
    hidden_size=128, num_heads=4, expansion=4, H_layers=0, L_layers=2, H_cycles=3, L_cycles=4,
    halt_max_steps=16, halt_exploration_prob=0.1, puzzle_emb_ndim=128, puzzle_emb_len=16, no_ACT_continue=True,
    mlp_t=False, pos_encodings="rope", rms_norm_eps=1e-5, rope_theta=10000.0,
)
TRM_EMA_RATE = 0.999  # pretrain.py's ema_rate
SYNTHETIC_META = dict(seq_len=900, vocab_size=12, num_puzzle_identifiers=1001)  # --synthetic: 1000 puzzles + blank 0
CPU_BENCH_TRAINER = dict(lr=1e-3, puzzle_emb_lr=1e-2, warmup_steps=20, lr_min_ratio=1.0,
                         weight_decay=0.1, puzzle_emb_weight_decay=0.1, beta1=0.9, beta2=0.95)
IGNORE_LABEL_ID = -100  # models/losses.py


# ---------------------------------------------------------------- stand-ins (official worker only)

def install_flash_attn_stand_in():
    """A `flash_attn_interface` module whose flash_attn_func runs torch SDPA with flash-attn's layout."""
    import torch
    import torch.nn.functional as F

    def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, **unused):
        # flash-attn: q, k, v and the output are [batch, seq, heads, head_dim], contiguous.
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                             dropout_p=dropout_p, is_causal=causal, scale=softmax_scale)
        return out.transpose(1, 2).contiguous()

    for name in ("flash_attn_interface", "flash_attn"):
        module = types.ModuleType(name)
        module.flash_attn_func = flash_attn_func
        module.__doc__ = "STAND-IN: flash_attn_func computed with torch.nn.functional.scaled_dot_product_attention"
        sys.modules[name] = module


def adam_atan2_update_(params, grads, exp_avgs, exp_avg_sqs, steps, lr, beta1, beta2, weight_decay):
    """STAND-IN for the CUDA kernel adam_atan2_backend.adam_atan2_cuda_impl_ (steps already incremented).

    The adam-atan2 package's reference formula: p *= 1 - lr*wd; m = lerp(m, g, 1-beta1);
    v = beta2*v + (1-beta2)*g^2; p -= lr/(1-beta1^t) * atan2(m, sqrt(v)/sqrt(1-beta2^t)).
    """
    import torch
    if not params:
        return
    with torch.no_grad():
        t = float(steps[0])
        step_size = lr / (1 - beta1 ** t)
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** t)
        torch._foreach_mul_(params, 1 - lr * weight_decay)
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
        denominators = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denominators, bias_correction2_sqrt)
        updates = [torch.atan2(m, d) for m, d in zip(exp_avgs, denominators)]
        torch._foreach_add_(params, updates, alpha=-step_size)


def load_adam_atan2():
    """Returns (optimizer class, description). The update kernel is always the CPU stand-in."""
    import torch
    backend = types.ModuleType("adam_atan2_backend")
    backend.adam_atan2_cuda_impl_ = adam_atan2_update_
    sys.modules["adam_atan2_backend"] = backend
    try:
        from adam_atan2 import AdamATan2
        return AdamATan2, "adam-atan2 package's AdamATan2 class, STAND-IN CPU update kernel (package formula)"
    except ImportError:
        pass

    class AdamATan2StandIn(torch.optim.Optimizer):
        """STAND-IN for adam_atan2.AdamATan2 (package not installed): same state, same update."""

        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-2):
            super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

        @torch.no_grad()
        def step(self):
            for group in self.param_groups:
                lists = ([], [], [], [], [])
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if not state:
                        state["step"] = torch.zeros((), dtype=torch.float32)
                        state["exp_avg"] = torch.zeros_like(p)
                        state["exp_avg_sq"] = torch.zeros_like(p)
                    for target, value in zip(lists, (p, p.grad, state["exp_avg"], state["exp_avg_sq"], state["step"])):
                        target.append(value)
                torch._foreach_add_(lists[4], 1)
                adam_atan2_update_(*lists, lr=group["lr"], beta1=group["betas"][0], beta2=group["betas"][1],
                                   weight_decay=group["weight_decay"])

    return AdamATan2StandIn, "STAND-IN AdamATan2 class and CPU update kernel (adam-atan2 package not installed)"


# ---------------------------------------------------------------- official worker (a subprocess)

def load_batches(dataset, batch_size, count, seed):
    """`count` batches of the train split, drawn before timing; labels mapped as puzzle_dataset.py does."""
    import numpy as np
    import torch
    split = os.path.join(dataset, "train")
    with open(os.path.join(split, "dataset.json")) as f:
        meta = json.load(f)
    fields = {}
    for name in ("inputs", "labels", "puzzle_identifiers", "puzzle_indices"):
        fields[name] = np.load(os.path.join(split, f"all__{name}.npy"))
    # Example e belongs to puzzle p where puzzle_indices[p] <= e < puzzle_indices[p + 1].
    example_puzzle = np.searchsorted(fields["puzzle_indices"], np.arange(len(fields["inputs"])), side="right") - 1
    rng = np.random.default_rng(seed)
    batches = []
    for _ in range(count):
        rows = rng.choice(len(fields["inputs"]), size=batch_size, replace=False)
        labels = fields["labels"][rows].astype(np.int32)
        if meta.get("ignore_label_id") is not None:
            labels[labels == meta["ignore_label_id"]] = IGNORE_LABEL_ID
        batches.append({
            "inputs": torch.from_numpy(fields["inputs"][rows].astype(np.int32)),
            "labels": torch.from_numpy(labels),
            "puzzle_identifiers": torch.from_numpy(fields["puzzle_identifiers"][example_puzzle[rows]].astype(np.int32)),
        })
    return meta, batches


def synthetic_batches(batch_size, count, seed):
    """--synthetic: `count` batches of uniformly random tokens in the cpu-bench shape (no dataset needed;
    the work of a step does not depend on the values)."""
    import torch
    generator = torch.Generator().manual_seed(seed)
    meta = dict(SYNTHETIC_META)
    batches = []
    for _ in range(count):
        shape = (batch_size, meta["seq_len"])
        batches.append({
            "inputs": torch.randint(0, meta["vocab_size"], shape, generator=generator, dtype=torch.int32),
            "labels": torch.randint(0, meta["vocab_size"], shape, generator=generator, dtype=torch.int32),
            "puzzle_identifiers": torch.randint(1, meta["num_puzzle_identifiers"], (batch_size,),
                                                generator=generator, dtype=torch.int32),
        })
    return meta, batches


def import_trm_official(trm_dir):
    """The official TRM code on sys.path; returns a note on flash-attn. Its models/layers.py calls
    torch's scaled_dot_product_attention; the flash-attn stand-in is installed only if it fails to
    import for want of flash-attn (an older or newer checkout)."""
    sys.path.insert(0, os.path.abspath(trm_dir))
    try:
        import models.layers  # noqa: F401
        return "not used (the TRM code calls torch SDPA)"
    except ImportError as error:
        if "flash_attn" not in str(error):
            raise
    install_flash_attn_stand_in()
    for name in [n for n in sys.modules if n == "models" or n.startswith("models.")]:
        del sys.modules[name]
    return "STAND-IN (torch SDPA)"


def learning_rate(base, step, settings):
    """pretrain.py's warm-up + cosine schedule; with lr_min_ratio 1 it is constant after warm-up."""
    warmup = settings["warmup_steps"]
    if step < warmup:
        return base * step / max(1, warmup)
    return base  # min_ratio 1.0: the cosine term vanishes


def official_worker(args):
    """Times the official training step; prints one JSON line with the result."""
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.arch == "trm":
        flash_note = import_trm_official(args.trm_dir)
        adam_class, adam_note = load_adam_atan2()
        from models.recursive_reasoning.trm import TinyRecursiveReasoningModel_ACTV1 as model_class
        from models.ema import EMAHelper
        model_settings = CPU_BENCH_TRM_MODEL
    else:
        flash_note = "STAND-IN (torch SDPA)"
        install_flash_attn_stand_in()
        adam_class, adam_note = load_adam_atan2()
        sys.path.insert(0, os.path.abspath(args.hrm_dir))
        from models.hrm.hrm_act_v1 import HierarchicalReasoningModel_ACTV1 as model_class
        model_settings = CPU_BENCH_MODEL
    from models.losses import ACTLossHead
    from models.sparse_embedding import CastedSparseEmbeddingSignSGD_Distributed

    if args.synthetic:
        meta, batches = synthetic_batches(args.batch, args.warmup + args.steps, seed=0)
    else:
        meta, batches = load_batches(args.dataset, args.batch, args.warmup + args.steps, seed=0)
    model_config = dict(**model_settings, batch_size=args.batch, seq_len=meta["seq_len"],
                        vocab_size=meta["vocab_size"], num_puzzle_identifiers=meta["num_puzzle_identifiers"],
                        forward_dtype="float32", causal=False)
    model = ACTLossHead(model_class(model_config), loss_type="stablemax_cross_entropy")
    model.train()
    if args.worker == "compiled":
        model = torch.compile(model, dynamic=False)  # as pretrain.py
    ema = None
    if args.arch == "trm":  # pretrain.py with ema=True: registered on the (compiled) model, updated per step
        ema = EMAHelper(mu=TRM_EMA_RATE)
        ema.register(model)
    s = CPU_BENCH_TRAINER
    optimizers = [
        CastedSparseEmbeddingSignSGD_Distributed(model.model.puzzle_emb.buffers(), lr=0,
                                                 weight_decay=s["puzzle_emb_weight_decay"], world_size=1),
        adam_class(model.parameters(), lr=0, weight_decay=s["weight_decay"], betas=(s["beta1"], s["beta2"])),
    ]
    base_rates = [s["puzzle_emb_lr"], s["lr"]]
    carry = None

    def train_batch(step, batch):
        # pretrain.py train_batch, single process, on the CPU.
        nonlocal carry
        if carry is None:
            carry = model.initial_carry(batch)
        carry, loss, metrics, _, _ = model(carry=carry, batch=batch, return_keys=[])
        ((1 / args.batch) * loss).backward()
        for optimizer, base in zip(optimizers, base_rates):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(base, step, s)
            optimizer.step()
            optimizer.zero_grad()
        if ema is not None:
            ema.update(model)
        values = torch.stack([metrics[k] for k in sorted(metrics)]).cpu().numpy()
        return dict(zip(sorted(metrics), values.tolist()))

    times = []
    last = {}
    for i, batch in enumerate(batches):
        start = time.perf_counter()
        try:
            last = train_batch(i + 1, batch)
        except Exception as error:  # e.g. torch.compile without a working C++ compiler
            reason = (str(error).strip().splitlines() or [""])[0]
            print("RESULT " + json.dumps({"error": f"step {i + 1}: {type(error).__name__}: {reason}"}), flush=True)
            return
        times.append(time.perf_counter() - start)
    measured = times[args.warmup:]
    tokens = args.steps * args.batch * meta["seq_len"]
    print("RESULT " + json.dumps(dict(
        tokens_per_second=tokens / sum(measured), seconds_per_step=sum(measured) / len(measured),
        warmup_seconds=times[:args.warmup], step_seconds=measured, seq_len=meta["seq_len"],
        lm_loss=last.get("lm_loss", float("nan")) / args.batch,
        torch=torch.__version__, cpu_capability=torch.backends.cpu.get_cpu_capability(),
        mkl=torch.backends.mkl.is_available(), threads=torch.get_num_threads(), adam=adam_note,
        flash_attn=flash_note, ema=(f"official EMAHelper, mu {TRM_EMA_RATE}, updated after every step (timed)"
                                    if ema is not None else None),
    )), flush=True)


def run_official(args, mode):
    """Runs one official worker in a fresh process; returns its result dict or {'error': ...}."""
    code = ["--arch", "trm", "--trm-dir", args.trm_dir] if args.arch == "trm" else ["--hrm-dir", args.hrm_dir]
    data = ["--synthetic"] if args.synthetic else ["--dataset", args.dataset]
    command = [sys.executable, os.path.abspath(__file__), "--worker", mode, *code, *data,
               "--batch", str(args.batch), "--threads", str(args.threads),
               "--warmup", str(args.warmup), "--steps", str(args.steps)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    process = subprocess.run(command, capture_output=True, text=True, env=env)
    for line in process.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    tail = (process.stderr.strip().splitlines() or ["(no output)"])[-12:]
    return {"error": f"exit {process.returncode}: " + "\n    ".join(tail)}


# ---------------------------------------------------------------- arc-pipeline side and the machine

def run_text(command):
    try:
        return subprocess.run(command, capture_output=True, text=True).stdout
    except OSError as error:
        return f"({error})"


def prepare_dataset(args, work):
    """Fetches the kaggle set from the mirror and builds a canvas-30 (seq 900) dataset in `work`."""
    data_dir = os.path.join(work, "arc-data")
    out = os.path.join(work, "dataset")
    steps = [
        [args.arc_pipeline, "fetch", "--data-dir", data_dir, "--mirror", args.mirror, "kaggle"],
        [args.arc_pipeline, "build-dataset", "--preset", "kaggle", "--data-dir", data_dir, "--out", out,
         "--canvas", "30", "--num-aug", str(args.num_aug), "--max-tasks", str(args.max_tasks),
         "--threads", str(args.threads), "--quiet"],
    ]
    for command in steps:
        process = subprocess.run(command, capture_output=True, text=True)
        if process.returncode != 0:
            sys.exit(f"error: {' '.join(command)} failed:\n{process.stdout}{process.stderr}")
    return out


def cpu_has_bf16():
    """Whether /proc/cpuinfo lists bf16 matmul instructions (what `--precision auto` looks for first)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def run_arc_pipeline(args, work, precision):
    """Trains warmup + steps steps with one metrics line per step; returns tokens/s over the measured steps."""
    out = os.path.join(work, f"run-{precision}")
    total = args.warmup + args.steps
    command = [args.arc_pipeline, "train", "--preset", "cpu-bench", "--dataset", args.dataset, "--out", out,
               "--batch-size", str(args.batch), "--threads", str(args.threads), "--max-steps", str(total),
               "--log-interval", "1", "--checkpoint-interval", str(total + 1000), "--precision", precision, "--quiet"]
    if args.arch == "trm":
        command[2:2] = ["--arch", "trm"]
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        return {"error": f"exit {process.returncode}: {process.stderr.strip()[-2000:]}"}
    with open(os.path.join(out, "metrics.jsonl")) as f:
        records = {r["step"]: r for r in (json.loads(line) for line in f if line.strip())}
    # elapsed_seconds is taken when a step's line is written, so the difference spans the measured steps.
    seconds = records[total]["elapsed_seconds"] - records[args.warmup]["elapsed_seconds"] if args.warmup else \
        records[total]["elapsed_seconds"]
    seq_len = common.run_settings(os.path.join(out, "config.json"))["seq_len"]
    per_step = [args.batch * seq_len / records[s]["tokens_per_second"] for s in range(args.warmup + 1, total + 1)]
    return dict(tokens_per_second=args.steps * args.batch * seq_len / seconds, seconds_per_step=seconds / args.steps,
                step_seconds=per_step, seq_len=seq_len, lm_loss=records[total]["lm_loss"],
                first_lines=banner_lines(process.stdout + process.stderr))


def banner_lines(output):
    """What `train` prints before its summary (the BLAS backend and kernel set)."""
    lines = []
    for line in output.splitlines():
        if line.startswith("trained steps"):
            break
        lines.append(line)
    return lines


def machine_lines(args):
    lines = []
    model = [l.split(":", 1)[1].strip() for l in run_text(["lscpu"]).splitlines() if l.startswith("Model name")]
    lines.append(f"CPU (lscpu): {model[0] if model else 'unknown'}, {os.cpu_count()} logical CPUs")
    if args.skip_arc_pipeline:
        return lines
    system = run_text([args.arc_pipeline, "system"]).splitlines()
    lines += [f"arc-pipeline system: {l}" for l in system if l.startswith(("BLAS", "fp32 matmul", "oneDNN", "kernel set", "best kernel", "Float", "attention"))]
    return lines


def load_text():
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=["hrm", "trm"], default="hrm",
                        help="hrm (default): the official HRM; trm: the official TRM and `train --arch trm`")
    parser.add_argument("--hrm-dir", help="checkout of github.com/sapientinc/HRM (its models/ is imported); needed with --arch hrm")
    parser.add_argument("--trm-dir", help="checkout of github.com/SamsungSAILMontreal/TinyRecursiveModels; needed with --arch trm")
    parser.add_argument("--arc-pipeline", default=os.path.join(REPO, ".build", "release", "arc-pipeline"))
    parser.add_argument("--dataset", help="built dataset with seq_len 900 (default: fetch and build one from --mirror)")
    parser.add_argument("--mirror", default=os.environ.get("ARC_MIRROR"), help="offline archive mirror for `arc-pipeline fetch` (env ARC_MIRROR)")
    parser.add_argument("--num-aug", type=int, default=8, help="augmentations when building the dataset")
    parser.add_argument("--max-tasks", type=int, default=100, help="tasks per set when building the dataset")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3, help="steps run before timing (the compiled run compiles here)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--skip-compiled", action="store_true", help="do not run the torch.compile variant")
    parser.add_argument("--skip-arc-pipeline", action="store_true",
                        help="run only the PyTorch side (no arc-pipeline executable needed)")
    parser.add_argument("--synthetic", action="store_true",
                        help="with --skip-arc-pipeline and no --dataset: random batches of the cpu-bench shape")
    parser.add_argument("--precisions", default="auto",
                        help="arc-pipeline runs: comma-separated fp32,bf16; auto (default): fp32, and bf16 too when the "
                             "CPU lists avx512_bf16 or amx_bf16 (the official code runs fp32 on a CPU either way)")
    parser.add_argument("--worker", choices=["eager", "compiled"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be >= 1 and --warmup >= 0")
    if args.precisions == "auto":
        args.precisions = ["fp32", "bf16"] if cpu_has_bf16() else ["fp32"]
    else:
        args.precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
        if not args.precisions or any(p not in ("fp32", "bf16") for p in args.precisions):
            parser.error("--precisions takes auto or a comma-separated list of fp32 and bf16")
    if args.worker:
        official_worker(args)
        return
    if args.arch == "trm":
        if not args.trm_dir:
            parser.error("--arch trm needs --trm-dir (git clone https://github.com/SamsungSAILMontreal/TinyRecursiveModels)")
        if not os.path.isfile(os.path.join(args.trm_dir, "models", "recursive_reasoning", "trm.py")):
            parser.error(f"--trm-dir {args.trm_dir}: no models/recursive_reasoning/trm.py "
                         "(git clone https://github.com/SamsungSAILMontreal/TinyRecursiveModels)")
    else:
        if not args.hrm_dir:
            parser.error("the following arguments are required: --hrm-dir")
        if not os.path.isfile(os.path.join(args.hrm_dir, "models", "hrm", "hrm_act_v1.py")):
            parser.error(f"--hrm-dir {args.hrm_dir}: no models/hrm/hrm_act_v1.py (git clone https://github.com/sapientinc/HRM)")
    if args.synthetic and (args.dataset or not args.skip_arc_pipeline):
        parser.error("--synthetic goes with --skip-arc-pipeline and without --dataset (arc-pipeline trains on a built dataset)")
    if args.skip_arc_pipeline and not (args.dataset or args.synthetic):
        parser.error("--skip-arc-pipeline needs --dataset (a built dataset with seq_len 900) or --synthetic")
    if not args.skip_arc_pipeline and not os.access(args.arc_pipeline, os.X_OK):
        parser.error(f"--arc-pipeline {args.arc_pipeline} is not an executable (swift build -c release)")

    work = tempfile.mkdtemp(prefix="official-vs-trainer-")
    try:
        if not args.dataset and not args.synthetic:
            if not args.mirror:
                parser.error("give --dataset, or --mirror (or ARC_MIRROR) to build one")
            print(f"building a seq-900 dataset in {work} (kaggle, canvas 30, {args.num_aug} augmentations, "
                  f"at most {args.max_tasks} tasks per set) ...", flush=True)
            args.dataset = prepare_dataset(args, work)
        load_before = load_text()
        results = {}
        modes = ["eager"] + ([] if args.skip_compiled else ["compiled"])
        for mode in modes:
            print(f"running official {mode} ...", flush=True)
            load = load_text()
            results[f"official {mode}"] = dict(run_official(args, mode), load=load)
        if not args.skip_arc_pipeline:
            for precision in args.precisions:
                print(f"running arc-pipeline train --precision {precision} ...", flush=True)
                load = load_text()
                results[f"arc-pipeline {precision}"] = dict(run_arc_pipeline(args, work, precision), load=load)
        load_after = load_text()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    if args.arch == "trm":
        versus = "" if args.skip_arc_pipeline else " vs arc-pipeline train --arch trm"
        print(f"Official TRM training step{versus}, cpu-bench TRM (D128, 4 heads, 2 layers, cycles 3 x 4, 16 puzzle "
              f"tokens, ACT max 16, EMA {TRM_EMA_RATE}), batch {args.batch}, fp32, {args.threads} threads; "
              f"{args.warmup} warm-up + {args.steps} timed steps")
    else:
        versus = "" if args.skip_arc_pipeline else " vs arc-pipeline train"
        print(f"Official HRM training step{versus}, cpu-bench (D128, 4 heads, 2+2 layers, cycles 2/2, "
              f"ACT max 16), batch {args.batch}, fp32, {args.threads} threads; {args.warmup} warm-up + {args.steps} timed steps")
    if args.synthetic:
        print("data: SYNTHETIC (uniformly random tokens, seq 900; lm_loss means nothing)")
    for line in machine_lines(args):
        print(line)
    official = next((r for k, r in results.items() if k.startswith("official") and "error" not in r), {})
    if official:
        print(f"torch {official['torch']} (CPU capability {official['cpu_capability']}, MKL {official['mkl']}, "
              f"{official['threads']} threads); AdamATan2: {official['adam']}; flash-attn: {official['flash_attn']}")
        if official.get("ema"):
            print(f"weight EMA: {official['ema']}")
    for precision in args.precisions:
        for line in results.get(f"arc-pipeline {precision}", {}).get("first_lines", []):
            print(f"arc-pipeline train --precision {precision}: {line}")
    print(f"load average (1/5/15 min): before {load_before}, after {load_after}")
    print()
    print(f"{'':21} {'tokens/s':>10} {'s/step':>8} {'seq':>5} {'lm_loss':>8}  {'load at start':>15}  per-step seconds")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:21} FAILED: {r['error']}")
            continue
        print(f"{name:21} {r['tokens_per_second']:10.0f} {r['seconds_per_step']:8.3f} {r['seq_len']:5d} "
              f"{r['lm_loss']:8.4f}  {r['load']:>15}  " + " ".join(f"{t:.2f}" for t in r["step_seconds"]))
        if "warmup_seconds" in r and r["warmup_seconds"]:
            print(f"{'':20} warm-up steps (s): " + " ".join(f"{t:.1f}" for t in r["warmup_seconds"]))
    if args.skip_arc_pipeline:
        return
    for precision in args.precisions:
        ours = results[f"arc-pipeline {precision}"]
        for name, r in results.items():
            if name.startswith("official"):
                if "error" in r or "error" in ours:
                    print(f"arc-pipeline {precision} / {name}: n/a")
                else:
                    print(f"arc-pipeline {precision} / {name}: {ours['tokens_per_second'] / r['tokens_per_second']:.2f}x")


if __name__ == "__main__":
    main()
