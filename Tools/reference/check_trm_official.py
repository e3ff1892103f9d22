"""Cross-check of docs/SPEC.md §9 against the official TRM code: runs the official inner model
(github.com/SamsungSAILMontreal/TinyRecursiveModels, `models/recursive_reasoning/trm.py`) on the
weights, carry and batch of Tests/Fixtures/trm_tiny.safetensors and prints the largest
differences from the fixture's outputs and gradients (made by trm_reference.py).

    python3 Tools/reference/check_trm_official.py --official DIR [--fixture Tests/Fixtures/trm_tiny.safetensors]

DIR is a checkout of the official repository (its `models/` package is imported from there;
nothing of it is copied here). Needs torch, numpy, einops and pydantic. The official model runs
with forward_dtype float64, but its RMSNorm and RoPE compute in float32, so differences of about
1e-6 are expected. Exits non-zero when a tensor is missing or unexpected, or a difference exceeds 1e-4.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys

import numpy as np
import torch


def read_safetensors(path: str):
    raw = open(path, "rb").read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + length].decode("utf-8"))
    metadata = header.pop("__metadata__")
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        kind = {"F32": np.float32, "I32": np.int32}[info["dtype"]]
        data = np.frombuffer(raw[8 + length + begin:8 + length + end], dtype=kind).reshape(info["shape"])
        tensors[name] = torch.from_numpy(data.copy())
    return tensors, json.loads(metadata["config"])


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--official", required=True, help="checkout of SamsungSAILMontreal/TinyRecursiveModels")
    parser.add_argument("--fixture", default=os.path.join(here, "..", "..", "Tests", "Fixtures", "trm_tiny.safetensors"))
    args = parser.parse_args()
    sys.path.insert(0, os.path.abspath(args.official))
    from models.recursive_reasoning.trm import (  # type: ignore  # noqa: E402
        TinyRecursiveReasoningModel_ACTV1_Inner, TinyRecursiveReasoningModel_ACTV1Config,
        TinyRecursiveReasoningModel_ACTV1InnerCarry)

    T, c = read_safetensors(args.fixture)
    config = dict(batch_size=c["batch_size"], seq_len=c["seq_len"], puzzle_emb_ndim=c["puzzle_emb_ndim"],
                  num_puzzle_identifiers=c["num_puzzle_identifiers"], vocab_size=c["vocab_size"],
                  H_cycles=c["H_cycles"], L_cycles=c["L_cycles"], H_layers=0, L_layers=c["L_layers"],
                  hidden_size=c["hidden_size"], expansion=c["expansion"], num_heads=c["num_heads"],
                  pos_encodings="rope", halt_max_steps=c["halt_max_steps"], halt_exploration_prob=0.0,
                  forward_dtype="float64", puzzle_emb_len=c["puzzle_emb_len"], no_ACT_continue=c["no_ACT_continue"],
                  rms_norm_eps=c["rms_norm_eps"], rope_theta=c["rope_theta"])
    torch.set_default_dtype(torch.float64)
    inner = TinyRecursiveReasoningModel_ACTV1_Inner(TinyRecursiveReasoningModel_ACTV1Config(**config)).double()
    inner.eval()  # the puzzle table is read directly (training mode copies rows into a float32 buffer)
    prefix = "model.inner."
    state = {k[len(prefix):]: v.double() for k, v in T.items() if k.startswith(prefix)}
    missing, unexpected = inner.load_state_dict(state, strict=False)
    failures = []
    if missing or unexpected:
        failures.append(f"state_dict names: missing {missing}, unexpected {unexpected}")

    carry = TinyRecursiveReasoningModel_ACTV1InnerCarry(z_H=T["carry.z_H"].double(), z_L=T["carry.z_L"].double())
    batch = {"inputs": T["batch.inputs"].long(), "puzzle_identifiers": T["batch.puzzle_identifiers"].long()}
    new_carry, logits, (q_halt, q_continue) = inner(carry, batch)

    def compare(name, actual, expected, relative_to_max=False):
        difference = (actual.detach().double() - expected.double()).abs().max().item()
        if relative_to_max:
            difference /= max(expected.abs().max().item(), 1e-30)
        kind = "max diff / max |expected|" if relative_to_max else "max |diff|"
        print(f"{name}: {kind} = {difference:.3e}")
        if not difference <= 1e-4:
            failures.append(name)

    compare("out.logits", logits, T["out.logits"])
    compare("out.q_halt_logits", q_halt, T["out.q_halt_logits"])
    compare("out.q_continue_logits", q_continue, T["out.q_continue_logits"])
    compare("out.z_H", new_carry.z_H, T["out.z_H"])
    compare("out.z_L", new_carry.z_L, T["out.z_L"])
    q = torch.stack([q_halt, q_continue], dim=-1)
    loss = (logits * T["loss.logit_weights"].double()).sum() + (q * T["loss.q_weights"].double()).sum()
    loss.backward()
    for name, parameter in inner.named_parameters():
        compare("grad." + prefix + name, parameter.grad, T["grad." + prefix + name], relative_to_max=True)
    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    print("official TRM agrees with the fixture")
    return 0


if __name__ == "__main__":
    sys.exit(main())
