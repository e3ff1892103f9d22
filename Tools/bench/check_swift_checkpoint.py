"""Checks that a checkpoint SAVED BY THE SWIFT MODEL loads with the standard safetensors loader and,
run through the independent PyTorch reference (Tools/reference/hrm_reference.py, float64), gives
the logits the Swift model computed.

    swift build -c release --product arc-bench
    .build/release/arc-bench export-check /tmp/hrm-export
    python3 Tools/bench/check_swift_checkpoint.py /tmp/hrm-export

Exit status 0 when every value matches within |a-b| <= 1e-4 + 1e-3*|b| (float32 vs float64).
"""
import json
import os
import sys

import torch
from safetensors import safe_open

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
import hrm_reference as ref  # noqa: E402


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "/tmp/hrm-export"
    with safe_open(os.path.join(directory, "swift_model.safetensors"), "pt") as f:
        metadata = f.metadata()
        params = {k: f.get_tensor(k).to(torch.float64) for k in f.keys()}
    config = json.loads(metadata["config"])
    cfg = ref.HRMConfig(
        hidden_size=config["hiddenSize"], num_heads=config["numHeads"], expansion=config["expansion"],
        H_layers=config["hLayers"], L_layers=config["lLayers"], H_cycles=config["hCycles"], L_cycles=config["lCycles"],
        vocab_size=config["vocabSize"], seq_len=config["seqLen"], puzzle_emb_ndim=config["puzzleEmbeddingDim"],
        num_puzzle_identifiers=config["numPuzzleIdentifiers"] + 1, halt_max_steps=config["haltMaxSteps"],
        rms_norm_eps=config["rmsNormEpsilon"], rope_theta=config["ropeTheta"])
    expected_shapes = ref.parameter_shapes(cfg)
    missing = sorted(set(expected_shapes) - set(params))
    extra = sorted(set(params) - set(expected_shapes))
    bad = [k for k in expected_shapes if k in params and tuple(params[k].shape) != tuple(expected_shapes[k])]
    print(f"names: {len(params)} tensors; missing {missing}; unexpected {extra}; wrong shapes {bad}")
    with safe_open(os.path.join(directory, "swift_outputs.safetensors"), "pt") as f:
        out = {k: f.get_tensor(k) for k in f.keys()}
    inputs, ids = out["batch.inputs"], out["batch.puzzle_identifiers"]
    z_H, z_L = ref.initial_carry(params, cfg, inputs.shape[0])
    with torch.no_grad():
        result = ref.inner_step(params, cfg, z_H, z_L, inputs, ids)
    ok = not (missing or extra or bad)
    q = torch.stack([result["q_halt_logits"], result["q_continue_logits"]], dim=-1)
    for name, swift, reference in [("logits", out["out.logits"], result["logits"]),
                                   ("q_logits", out["out.q_logits"], q),
                                   ("z_H", out["out.z_H"], result["z_H"])]:
        swift, reference = swift.to(torch.float64), reference.to(torch.float64)
        if swift.shape != reference.shape:
            print(f"{name}: shape {tuple(swift.shape)} vs reference {tuple(reference.shape)}")
            ok = False
            continue
        diff = (swift - reference).abs()
        good = bool((diff <= 1e-4 + 1e-3 * reference.abs()).all())
        print(f"{name}: largest |swift - reference| = {diff.max().item():.3e} ({'ok' if good else 'MISMATCH'})")
        ok = ok and good
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
