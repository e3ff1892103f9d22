"""Checks a TRM checkpoint SAVED BY THE SWIFT MODEL against the OFFICIAL TRM code
(github.com/SamsungSAILMontreal/TinyRecursiveModels, models/recursive_reasoning/trm.py; docs/SPEC.md §9):
the checkpoint must load into the official `TinyRecursiveReasoningModel_ACTV1` (wrapped in its
`ACTLossHead`, hence the `model.inner.` names) with no missing, unexpected or misshapen tensor,
and one inner step from the reset carry on the exported batch must give the logits, q logits and
z_H the Swift model computed.

    swift build -c release --product arc-bench
    .build/release/arc-bench export-check --arch trm /tmp/trm-export
    python3 Tools/bench/check_trm_checkpoint.py /tmp/trm-export --official /path/to/TinyRecursiveModels

DIR holds swift_model.safetensors (F32 tensors under the official state_dict names, the model
config as JSON in __metadata__["config"]: hiddenSize, numHeads, expansion, hLayers, lLayers,
hCycles, lCycles, haltMaxSteps, puzzleEmbeddingDim, puzzleEmbeddingLength, numPuzzleIdentifiers
(without the blank row 0: the table has numPuzzleIdentifiers + 1 rows), vocabSize, seqLen,
ropeTheta, rmsNormEpsilon, noACTContinue, architecture "trm") and swift_outputs.safetensors
(batch.inputs I32 [B, seq], batch.puzzle_identifiers I32 [B], out.logits F32 [B, seq, vocab],
out.q_logits F32 [B, 2] = (q_halt, q_continue), out.z_H F32 [B, P + seq, D]).

The official code is imported unmodified from the checkout given with --official (its models/
package; nothing of it is copied here). It runs on the CPU with forward_dtype float32, in eval
mode (the puzzle table is read directly; training mode copies the rows into a per-batch buffer,
same values), through the ACT wrapper from its initial carry (every slot halted, so the carry is
reset to H_init / L_init and one inner step runs). If the checkout's models/layers.py imports
flash-attn, the CPU stand-in of official_vs_trainer.py is installed first (labelled in the output).

Tolerance: |swift - official| <= 1e-4 + 1e-3 |official| for every value. Both sides compute in
float32 with different kernels and summation orders; the rounding differences (about 1e-7
relative per operation) pass through H_cycles x (L_cycles + 1) x L_layers blocks, each ending in
an RMS norm that keeps values of order 1, and stay around 1e-6..1e-5; a wrong weight, name or
order of operations changes the outputs by 1e-2 or more.
Exit status 0 when the names, shapes and every value agree; 1 otherwise.

Without the Swift side, --make-sample DIR writes the same two files from this project's
independent reference (Tools/reference/trm_reference.py, float64, the inputs and parameters
rounded to float32, the outputs stored as F32) for a tiny configuration: D 32, 2 heads, 2 layers,
H_cycles 2 x L_cycles 3, puzzle_emb_len 4, puzzle_emb_ndim 48, 6 puzzle identifiers (a 7-row
table), seq 16, batch 3 (puzzle identifiers 6, 2, 6), random q_head and puzzle table.
--perturb NAME (with --make-sample) adds 0.05 to one value of that tensor (flat index
--perturb-index, default 0) in swift_model.safetensors AFTER the outputs were computed, so the
check must fail (unless the value is never read, e.g. a puzzle-table row no slot uses):

    python3 Tools/bench/check_trm_checkpoint.py --make-sample /tmp/trm-sample
    python3 Tools/bench/check_trm_checkpoint.py /tmp/trm-sample --official /path/to/TinyRecursiveModels  # PASS
    python3 Tools/bench/check_trm_checkpoint.py --make-sample /tmp/trm-bad \\
        --perturb model.inner.L_level.layers.1.mlp.down_proj.weight
    python3 Tools/bench/check_trm_checkpoint.py /tmp/trm-bad --official ...                             # FAIL

Needs torch, numpy, einops, pydantic and safetensors.
"""
import argparse
import json
import math
import os
import sys

import torch
from safetensors import safe_open
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ABSOLUTE_TOLERANCE = 1e-4
RELATIVE_TOLERANCE = 1e-3
PREFIX = "model.inner."
CONFIG_KEYS = ("hiddenSize", "numHeads", "expansion", "hLayers", "lLayers", "hCycles", "lCycles", "haltMaxSteps",
               "puzzleEmbeddingDim", "puzzleEmbeddingLength", "numPuzzleIdentifiers", "vocabSize", "seqLen",
               "ropeTheta", "rmsNormEpsilon", "noACTContinue", "architecture")
OUTPUT_NAMES = ("batch.inputs", "batch.puzzle_identifiers", "out.logits", "out.q_logits", "out.z_H")


def read_safetensors(path):
    """(tensors, metadata) with the standard safetensors loader, plus each tensor's stored dtype."""
    tensors, dtypes = {}, {}
    with safe_open(path, "pt") as f:
        metadata = f.metadata() or {}
        for name in f.keys():
            tensors[name] = f.get_tensor(name)
            dtypes[name] = tensors[name].dtype
    return tensors, dtypes, metadata


def write_safetensors(path, tensors, metadata):
    """Written to a temporary name in the same folder, then renamed."""
    partial = path + ".partial"
    save_file({k: v.contiguous() for k, v in tensors.items()}, partial, metadata=metadata)
    os.replace(partial, path)


# ---------------------------------------------------------------- the sample (no Swift needed)

def make_sample(directory, perturb, perturb_index):
    sys.path.insert(0, os.path.join(HERE, "..", "reference"))
    import hrm_reference as hrm  # noqa: E402
    import trm_reference as trm  # noqa: E402

    num_identifiers, batch, seq_len = 6, 3, 16
    cfg = trm.TRMConfig(hidden_size=32, num_heads=2, expansion=4.0, L_layers=2, H_cycles=2, L_cycles=3,
                        vocab_size=hrm.VOCAB_SIZE, seq_len=seq_len, puzzle_emb_ndim=48, puzzle_emb_len_setting=4,
                        num_puzzle_identifiers=num_identifiers + 1, halt_max_steps=4, no_ACT_continue=True)
    cfg.check()
    generator = torch.Generator().manual_seed(20251107)
    params = trm.init_params(cfg, generator)
    D = cfg.hidden_size
    # Random q_head and puzzle table (the spec's zeros would hide a wrong layout of either).
    params[trm.PUZZLE_EMB_NAME] = hrm.truncated_normal(params[trm.PUZZLE_EMB_NAME].shape, 0.5, generator)
    params["model.inner.q_head.weight"] = hrm.truncated_normal((2, D), 1.0 / math.sqrt(D), generator)
    params["model.inner.q_head.bias"] = torch.tensor([0.3, -0.2], dtype=torch.float64)
    params = {k: v.to(torch.float32).to(torch.float64) for k, v in params.items()}  # what F32 storage keeps
    inputs = torch.randint(0, cfg.vocab_size, (batch, seq_len), generator=generator, dtype=torch.int64)
    identifiers = torch.tensor([6, 2, 6], dtype=torch.int64)
    z_H, z_L = hrm.initial_carry(params, cfg, batch)
    with torch.no_grad():
        out = trm.inner_step(params, cfg, z_H, z_L, inputs, identifiers)
    q = torch.stack([out["q_halt_logits"], out["q_continue_logits"]], dim=-1)

    model = {k: v.to(torch.float32) for k, v in params.items()}
    if perturb:
        if perturb not in model:
            sys.exit(f"error: --perturb {perturb}: no such tensor; names: {', '.join(sorted(model))}")
        if not 0 <= perturb_index < model[perturb].numel():
            sys.exit(f"error: --perturb-index {perturb_index}: {perturb} has {model[perturb].numel()} values")
        model[perturb].view(-1)[perturb_index] += 0.05
    config = dict(hiddenSize=D, numHeads=cfg.num_heads, expansion=cfg.expansion, hLayers=0, lLayers=cfg.L_layers,
                  hCycles=cfg.H_cycles, lCycles=cfg.L_cycles, haltMaxSteps=cfg.halt_max_steps,
                  puzzleEmbeddingDim=cfg.puzzle_emb_ndim, puzzleEmbeddingLength=cfg.puzzle_emb_len_setting,
                  numPuzzleIdentifiers=num_identifiers, vocabSize=cfg.vocab_size, seqLen=seq_len,
                  ropeTheta=cfg.rope_theta, rmsNormEpsilon=cfg.rms_norm_eps, noACTContinue=cfg.no_ACT_continue,
                  architecture="trm")
    os.makedirs(directory, exist_ok=True)
    write_safetensors(os.path.join(directory, "swift_model.safetensors"), model, {"config": json.dumps(config)})
    write_safetensors(os.path.join(directory, "swift_outputs.safetensors"), {
        "batch.inputs": inputs.to(torch.int32), "batch.puzzle_identifiers": identifiers.to(torch.int32),
        "out.logits": out["logits"].to(torch.float32), "out.q_logits": q.to(torch.float32),
        "out.z_H": out["z_H"].to(torch.float32),
    }, {"note": "Tools/reference/trm_reference.py (float64), one inner step from the reset carry"})
    note = f", then {perturb} flat value {perturb_index} += 0.05 in swift_model.safetensors" if perturb else ""
    print(f"wrote {directory}/swift_model.safetensors ({len(model)} tensors) and swift_outputs.safetensors "
          f"(reference trm_reference.py, B {batch}, seq {seq_len}, P {cfg.puzzle_emb_len}, D {D}{note})")


# ---------------------------------------------------------------- the check against the official code

def import_official(checkout):
    """The official TRM ACT model and loss head; the flash-attn stand-in only if the checkout needs it."""
    sys.path.insert(0, os.path.abspath(checkout))
    note = "not needed (models/layers.py uses torch scaled_dot_product_attention)"
    try:
        import models.layers  # noqa: F401
    except ImportError as error:
        if "flash_attn" not in str(error):
            raise
        sys.path.insert(0, HERE)
        from official_vs_trainer import install_flash_attn_stand_in
        install_flash_attn_stand_in()
        for name in [n for n in sys.modules if n == "models" or n.startswith("models.")]:
            del sys.modules[name]
        note = "STAND-IN (torch scaled_dot_product_attention in flash-attn's layout)"
    from models.losses import ACTLossHead
    from models.recursive_reasoning.trm import TinyRecursiveReasoningModel_ACTV1
    return TinyRecursiveReasoningModel_ACTV1, ACTLossHead, note


def check(directory, checkout):
    if not os.path.isfile(os.path.join(checkout, "models", "recursive_reasoning", "trm.py")):
        sys.exit(f"error: --official {checkout}: no models/recursive_reasoning/trm.py "
                 "(git clone https://github.com/SamsungSAILMontreal/TinyRecursiveModels)")
    for name in ("swift_model.safetensors", "swift_outputs.safetensors"):
        if not os.path.isfile(os.path.join(directory, name)):
            sys.exit(f"error: {directory}: no {name} (arc-bench export-check --arch trm {directory})")
    TRM, ACTLossHead, flash_note = import_official(checkout)
    torch.set_num_threads(1)

    state, dtypes, metadata = read_safetensors(os.path.join(directory, "swift_model.safetensors"))
    failures = []
    try:
        config = json.loads(metadata["config"])
    except (KeyError, ValueError) as error:
        sys.exit(f"error: {directory}/swift_model.safetensors: __metadata__.config is missing or not JSON ({error})")
    absent = [k for k in CONFIG_KEYS if k not in config]
    if absent:
        sys.exit(f"error: {directory}/swift_model.safetensors: __metadata__.config lacks {', '.join(absent)}")
    if config["architecture"] != "trm":
        failures.append(f"config architecture is {config['architecture']!r}, expected 'trm'")
    if config["hLayers"] != 0:
        failures.append(f"config hLayers is {config['hLayers']}, expected 0 (TRM has no H network)")
    not_f32 = sorted(k for k, t in dtypes.items() if t != torch.float32)
    if not_f32:
        failures.append(f"tensors not F32: {not_f32}")

    outputs, _, _ = read_safetensors(os.path.join(directory, "swift_outputs.safetensors"))
    absent = [k for k in OUTPUT_NAMES if k not in outputs]
    if absent:
        sys.exit(f"error: {directory}/swift_outputs.safetensors lacks {', '.join(absent)}")
    inputs, identifiers = outputs["batch.inputs"], outputs["batch.puzzle_identifiers"]
    batch_size = inputs.shape[0]

    model_config = dict(
        batch_size=batch_size, seq_len=config["seqLen"], puzzle_emb_ndim=config["puzzleEmbeddingDim"],
        num_puzzle_identifiers=config["numPuzzleIdentifiers"] + 1, vocab_size=config["vocabSize"],
        H_cycles=config["hCycles"], L_cycles=config["lCycles"], H_layers=config["hLayers"], L_layers=config["lLayers"],
        hidden_size=config["hiddenSize"], expansion=config["expansion"], num_heads=config["numHeads"],
        pos_encodings="rope", rms_norm_eps=config["rmsNormEpsilon"], rope_theta=config["ropeTheta"],
        halt_max_steps=config["haltMaxSteps"], halt_exploration_prob=0.1, forward_dtype="float32",
        puzzle_emb_len=config["puzzleEmbeddingLength"], no_ACT_continue=config["noACTContinue"], causal=False)
    torch.manual_seed(0)  # the official initialisation, overwritten by the load below
    head = ACTLossHead(TRM(model_config), loss_type="stablemax_cross_entropy")
    expected = head.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshapen = sorted(f"{k} {tuple(state[k].shape)} vs official {tuple(expected[k].shape)}"
                       for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    print(f"state_dict: {len(state)} tensors in the file, {len(expected)} in the official model; "
          f"missing {missing or 'none'}; unexpected {unexpected or 'none'}; wrong shapes {misshapen or 'none'}")
    if missing or unexpected or misshapen:
        failures.append("state_dict names/shapes")
        print("FAIL: " + "; ".join(failures))
        return 1
    head.load_state_dict(state, strict=True)
    model = head.model
    model.eval()

    batch = {"inputs": inputs, "puzzle_identifiers": identifiers}
    with torch.no_grad():
        carry = model.initial_carry(batch)  # every slot halted: the step resets to H_init / L_init
        carry, result = model(carry=carry, batch=batch)
    official = {
        "out.logits": result["logits"],
        "out.q_logits": torch.stack([result["q_halt_logits"], result["q_continue_logits"]], dim=-1),
        "out.z_H": carry.inner_carry.z_H,
    }
    print(f"official TRM (forward_dtype float32, CPU, eval): B {batch_size}, seq {config['seqLen']}, "
          f"P {model.inner.puzzle_emb_len}, D {config['hiddenSize']}, cycles {config['hCycles']} x {config['lCycles']}, "
          f"{config['lLayers']} layers; flash-attn: {flash_note}")
    for name, reference in official.items():
        swift = outputs[name]
        if swift.shape != reference.shape:
            print(f"{name}: shape {tuple(swift.shape)} vs official {tuple(reference.shape)} (MISMATCH)")
            failures.append(name)
            continue
        swift, reference = swift.to(torch.float64), reference.to(torch.float64)
        difference = (swift - reference).abs()
        bound = ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * reference.abs()
        good = bool((difference <= bound).all())
        print(f"{name}: largest |swift - official| = {difference.max().item():.3e}, "
              f"largest |official| = {reference.abs().max().item():.3e} ({'ok' if good else 'MISMATCH'})")
        if not good:
            failures.append(name)
    if failures:
        print("FAIL: " + ", ".join(failures))
        return 1
    print(f"PASS (|swift - official| <= {ABSOLUTE_TOLERANCE:g} + {RELATIVE_TOLERANCE:g} |official| everywhere)")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", nargs="?", help="folder with swift_model.safetensors and swift_outputs.safetensors")
    parser.add_argument("--official", help="checkout of github.com/SamsungSAILMontreal/TinyRecursiveModels")
    parser.add_argument("--make-sample", metavar="DIR", help="write the two files from trm_reference.py into DIR and stop")
    parser.add_argument("--perturb", metavar="NAME", help="with --make-sample: add 0.05 to one value of tensor NAME "
                        "after the outputs were computed (the check must then fail)")
    parser.add_argument("--perturb-index", type=int, default=0, metavar="I",
                        help="with --perturb: which value, as a flat index into NAME (default 0)")
    args = parser.parse_args()
    if args.make_sample:
        if args.directory or args.official:
            parser.error("--make-sample DIR takes no other folder and no --official")
        make_sample(args.make_sample, args.perturb, args.perturb_index)
        return 0
    if args.perturb or args.perturb_index:
        parser.error("--perturb and --perturb-index go with --make-sample")
    if not args.directory or not args.official:
        parser.error("give DIR and --official TRM_CHECKOUT (or --make-sample DIR)")
    return check(args.directory, args.official)


if __name__ == "__main__":
    sys.exit(main())
