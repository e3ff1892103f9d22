"""Generate the TRM training-step fixture Tests/Fixtures/trm_train_steps.safetensors (docs/SPEC.md
§5, §6 and §9; keys in Tests/Fixtures/README.md, "trm_train_steps").

    python3 Tools/reference/make_trm_step_fixtures.py [--out Tests/Fixtures]

TWO consecutive ACT training steps of a tiny TRM (D 8, 2 heads, 2 layers, H_cycles 2, L_cycles 2,
puzzle_emb_ndim 12 in puzzle_emb_len 2 tokens, a 3x3 canvas so seq_len 9, halt_max_steps 3,
batch 3) from a fresh carry (every slot halted, so every slot is reset and takes its example),
with no_ACT_continue true and exploration probability 0, so halting is deterministic:
    halted = steps >= halt_max_steps or q_halt > 0
(never q_halt > q_continue: there is no Q-continue target step and no q_continue loss). Per step:
    total = lm_loss (stablemax, losses.py) + 0.5 * q_halt_loss (BCE against seq_is_correct);
the gradient of total / batch through the whole last H cycle (trm_reference.py); AdamATan2
(optim.py) on every trainable tensor but the puzzle table; sparse sign-SGD on the puzzle rows of
the slots' current identifiers; both at the rate of the warm-up + cosine schedule
(optim.learning_rate, the Swift LearningRateSchedule) for the 1-based step; then the weight EMA
    shadow = (1 - mu) * weights + mu * shadow,   mu = 0.9,
over the Adam tensors, the shadow starting as the weights before the first step.

The q_head (random weight, bias Q_HEAD_BIAS) is chosen so that after step 1 one slot halts by
q_halt > 0, the others continue (q_halt < 0), and one of those would halt under HRM's rule
q_halt > q_continue; the script asserts this. Every discrete decision (halting, argmax,
sign of a gradient) is checked not to be a near tie, so a float32 recomputation agrees.

Deterministic (one torch.Generator with a fixed seed, every stored input rounded to float32 before
the float64 computation); the safetensors writer is make_trm_fixtures.py's.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from typing import Dict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hrm_reference as hrm  # noqa: E402
import losses  # noqa: E402
import make_trm_fixtures as tiny  # noqa: E402  (f32, save: the writer)
import optim  # noqa: E402
import trm_reference as trm  # noqa: E402

SEED = 2028
CANVAS = 3
# q_head bias (halt, continue): with the random q_head weight, after step 1 slot 2 halts by q_halt > 0
# and slots 0 and 1 continue (q_halt < 0); slot 0's q_halt > q_continue, so HRM's rule would halt it.
Q_HEAD_BIAS = (-0.6, -0.5)
TRAIN = {"lr": 1e-3, "puzzle_emb_lr": 1e-2, "beta1": 0.9, "beta2": 0.95, "weight_decay": 0.1,
         "puzzle_emb_weight_decay": 0.1, "warmup_steps": 2, "total_steps": 10, "lr_min_ratio": 0.1,
         "ema_rate": 0.9, "halt_exploration_prob": 0.0}


def fixture_config() -> trm.TRMConfig:
    cfg = trm.TRMConfig(hidden_size=8, num_heads=2, expansion=4.0, L_layers=2, H_cycles=2, L_cycles=2,
                        seq_len=CANVAS * CANVAS, puzzle_emb_ndim=12, puzzle_emb_len_setting=2,
                        num_puzzle_identifiers=5, halt_max_steps=3, no_ACT_continue=True)
    cfg.check()
    return cfg


def fixture_params(cfg: trm.TRMConfig, gen: torch.Generator) -> Dict[str, torch.Tensor]:
    """The spec's initialisation, but the puzzle table and the q_head weight random and the q_head
    bias Q_HEAD_BIAS, so that q depends on the state and the halting decisions are mixed."""
    params = trm.init_params(cfg, gen)
    params[trm.PUZZLE_EMB_NAME] = hrm.truncated_normal(params[trm.PUZZLE_EMB_NAME].shape, 0.5, gen)
    params["model.inner.q_head.weight"] = hrm.truncated_normal((2, cfg.hidden_size), 1.0 / math.sqrt(cfg.hidden_size), gen)
    params["model.inner.q_head.bias"] = torch.tensor(Q_HEAD_BIAS, dtype=torch.float64)
    return {k: tiny.f32(v) for k, v in params.items()}


def encode_batch(pairs):
    """(input grid, output grid, (r0, c0), identifier) -> inputs, labels [B, 9], identifiers [B]."""
    inputs = torch.stack([hrm.encode_grid(p[0], CANVAS, *p[2]) for p in pairs])
    labels = torch.stack([hrm.encode_grid(p[1], CANVAS, *p[2]) for p in pairs])
    ids = torch.tensor([p[3] for p in pairs], dtype=torch.int64)
    return {"inputs": inputs, "labels": labels, "puzzle_identifiers": ids}


BATCH1 = [
    ([[1, 2], [3, 4]], [[4, 3], [2, 1]], (0, 0), 3),
    ([[5, 0, 9]], [[9, 0, 5]], (1, 0), 1),
    ([[7], [8]], [[8], [7]], (0, 1), 3),
]
BATCH2 = [
    ([[2, 2], [0, 6]], [[6, 0], [2, 2]], (1, 1), 2),
    ([[3, 1, 4], [1, 5, 9], [2, 6, 5]], [[5, 6, 2], [9, 5, 1], [4, 1, 3]], (0, 0), 4),
    ([[4, 4]], [[4, 4]], (0, 0), 1),
]


@dataclasses.dataclass
class Carry:
    z_H: torch.Tensor
    z_L: torch.Tensor
    steps: torch.Tensor       # [B] int64
    halted: torch.Tensor      # [B] bool
    current: Dict[str, torch.Tensor]


def fresh_carry(cfg: trm.TRMConfig, batch) -> Carry:
    """Every slot halted, so the first call resets all of them."""
    B = batch["inputs"].shape[0]
    shape = (B, cfg.total_len, cfg.hidden_size)
    return Carry(torch.zeros(shape, dtype=torch.float64), torch.zeros(shape, dtype=torch.float64),
                 torch.zeros(B, dtype=torch.int64), torch.ones(B, dtype=torch.bool),
                 {k: torch.zeros_like(v) for k, v in batch.items()})


def act_step(params, cfg: trm.TRMConfig, carry: Carry, batch):
    """One ACT call in training (§5 with §9's no_ACT_continue, exploration 0): halted slots are
    reset and take the batch's example in their slot; one TRM inner step; steps += 1; halted =
    last step or q_halt > 0. No target step. Returns (new carry, outputs)."""
    assert cfg.no_ACT_continue and cfg.halt_max_steps > 1 and TRAIN["halt_exploration_prob"] == 0
    reset = carry.halted
    r3 = reset.view(-1, 1, 1)
    z_H = torch.where(r3, params["model.inner.H_init"].detach(), carry.z_H)
    z_L = torch.where(r3, params["model.inner.L_init"].detach(), carry.z_L)
    steps = torch.where(reset, torch.zeros_like(carry.steps), carry.steps)
    current = {k: torch.where(reset.view((-1,) + (1,) * (batch[k].ndim - 1)), batch[k], v)
               for k, v in carry.current.items()}
    out = trm.inner_step(params, cfg, z_H, z_L, current["inputs"], current["puzzle_identifiers"])
    with torch.no_grad():
        steps = steps + 1
        halted = (steps >= cfg.halt_max_steps) | (out["q_halt_logits"] > 0)
    return Carry(out["z_H"], out["z_L"], steps, halted, current), out


def learning_rates(step: int):
    args = (TRAIN["warmup_steps"], TRAIN["total_steps"], TRAIN["lr_min_ratio"])
    return (optim.learning_rate(step, TRAIN["lr"], *args), optim.learning_rate(step, TRAIN["puzzle_emb_lr"], *args))


def train_one_step(params, cfg: trm.TRMConfig, carry: Carry, batch, adam: optim.AdamATan2State,
                   shadow: Dict[str, torch.Tensor], step: int) -> dict:
    """One training step: ACT call, loss, gradient of total / B, AdamATan2, sparse sign-SGD, EMA."""
    B = batch["inputs"].shape[0]
    trainable = trm.trainable_names(cfg)
    adam_names = [n for n in trainable if n != trm.PUZZLE_EMB_NAME]
    leaf = {k: (v.clone().requires_grad_() if k in trainable else v) for k, v in params.items()}
    new_carry, out = act_step(leaf, cfg, carry, batch)
    assert "target_q_continue" not in out  # so act_loss's q_continue_loss is 0
    total, parts, metrics = losses.act_loss(out, new_carry.current["labels"], new_carry.halted, new_carry.steps)
    assert float(parts["q_continue_loss"]) == 0.0
    assert torch.equal(total, parts["lm_loss"] + 0.5 * parts["q_halt_loss"])
    grads = dict(zip(trainable, torch.autograd.grad(total / B, [leaf[n] for n in trainable])))

    # Discrete decisions far from ties (a float32 recomputation must take the same ones).
    q_halt = out["q_halt_logits"].detach()
    assert q_halt.abs().min() > 1e-2, f"halt decision too close to 0: {q_halt}"
    margins = out["logits"].detach().topk(2, dim=-1).values
    assert (margins[..., 0] - margins[..., 1]).min() > 1e-4, "argmax margin too small"
    puzzle_grad = grads[trm.PUZZLE_EMB_NAME][torch.unique(new_carry.current["puzzle_identifiers"])]
    assert puzzle_grad.abs().min() > 1e-3 * puzzle_grad.abs().max(), f"a puzzle-row gradient is nearly 0: {puzzle_grad}"

    lr, puzzle_lr = learning_rates(step)
    new_params = dict(params)
    new_params.update(optim.adam_atan2_step({n: params[n] for n in adam_names}, {n: grads[n] for n in adam_names}, adam,
                                            lr, TRAIN["beta1"], TRAIN["beta2"], TRAIN["weight_decay"]))
    # Sparse sign-SGD in its slot form (the table gradient row of an identifier is the sum over its
    # slots, so each slot gets an equal share: the sum, hence the sign, is unchanged).
    ids = new_carry.current["puzzle_identifiers"].long()
    table_grad = grads[trm.PUZZLE_EMB_NAME]
    share = torch.bincount(ids, minlength=table_grad.shape[0])[ids].unsqueeze(-1).to(table_grad.dtype)
    new_params[trm.PUZZLE_EMB_NAME] = optim.sparse_sign_sgd_step(params[trm.PUZZLE_EMB_NAME], ids, table_grad[ids] / share,
                                                                 puzzle_lr, TRAIN["puzzle_emb_weight_decay"])
    # The EMA (§9): shadow = (1 - mu) * weights + mu * shadow, after the optimizer step.
    mu = TRAIN["ema_rate"]
    new_shadow = {n: (1 - mu) * new_params[n] + mu * shadow[n] for n in adam_names}
    new_carry = Carry(new_carry.z_H.detach(), new_carry.z_L.detach(), new_carry.steps, new_carry.halted, new_carry.current)
    return {"params": new_params, "shadow": new_shadow, "carry": new_carry, "out": out, "total": total,
            "parts": parts, "metrics": metrics, "grads": grads, "lr": lr, "puzzle_lr": puzzle_lr}


def adam_flips_at_risk(grads: Dict[str, torch.Tensor]) -> int:
    """Adam at t=1 moves by lr*pi/4*sign(g): elements whose sign a float32 recomputation might flip
    (0 < |g| < 1e-4 * the largest |g| of their tensor)."""
    count = 0
    for name, g in grads.items():
        if name == trm.PUZZLE_EMB_NAME:
            continue
        count += int(((g != 0) & (g.abs() < 1e-4 * g.abs().max())).sum())
    return count


def make_trm_train_steps(path: str) -> None:
    cfg = fixture_config()
    gen = torch.Generator().manual_seed(SEED)
    params = fixture_params(cfg, gen)
    batch1, batch2 = encode_batch(BATCH1), encode_batch(BATCH2)
    B = batch1["inputs"].shape[0]

    # Slot 0's labels become the model's own argmax at step 1 where the encoded output is not PAD,
    # so that slot is exactly correct (q_halt target 1) and the others are not.
    z_H0, z_L0 = hrm.initial_carry(params, cfg, B)
    probe = trm.inner_step(params, cfg, z_H0, z_L0, batch1["inputs"], batch1["puzzle_identifiers"])
    predictions = probe["logits"].argmax(-1)
    labels = batch1["labels"].clone()
    labels[0] = torch.where(labels[0] != losses.IGNORE_LABEL, predictions[0], labels[0])
    batch1["labels"] = labels

    adam = optim.AdamATan2State()
    adam_names = [n for n in trm.trainable_names(cfg) if n != trm.PUZZLE_EMB_NAME]
    shadow0 = {n: params[n].clone() for n in adam_names}
    rec1 = train_one_step(params, cfg, fresh_carry(cfg, batch1), batch1, adam, shadow0, step=1)
    rec2 = train_one_step(rec1["params"], cfg, rec1["carry"], batch2, adam, rec1["shadow"], step=2)

    halted1 = rec1["carry"].halted
    q1 = rec1["out"]
    assert bool(rec1["parts"]["seq_is_correct"][0]) and not bool(rec1["parts"]["seq_is_correct"][1:].any())
    assert bool(halted1.any()) and not bool(halted1.all()), f"want a mix of halted slots after step 1: {halted1}"
    assert not bool((rec1["carry"].steps >= cfg.halt_max_steps).any()), "step 1 halts by q_halt only"
    hrm_rule = q1["q_halt_logits"] > q1["q_continue_logits"]
    assert bool((hrm_rule != halted1).any()), "want a slot that HRM's rule q_halt > q_continue would decide otherwise"
    assert bool((rec2["carry"].steps == 2).any()), "want a slot that continues into step 2 with its carry"
    print(f"  gradient elements with 0 < |g| < 1e-4 * max of their tensor: step 1 {adam_flips_at_risk(rec1['grads'])}, "
          f"step 2 {adam_flips_at_risk(rec2['grads'])}")

    T: Dict[str, torch.Tensor] = {}
    for name in trm.parameter_shapes(cfg):
        T[name] = params[name]
    for name, b in (("batch1", batch1), ("batch2", batch2)):
        for k, v in b.items():
            T[f"{name}.{k}"] = v
    for prefix, rec in (("step1.", rec1), ("step2.", rec2)):
        out, carry, parts = rec["out"], rec["carry"], rec["parts"]
        T.update({
            f"{prefix}current.inputs": carry.current["inputs"], f"{prefix}current.labels": carry.current["labels"],
            f"{prefix}current.puzzle_identifiers": carry.current["puzzle_identifiers"],
            f"{prefix}act.q_halt_logits": out["q_halt_logits"], f"{prefix}act.q_continue_logits": out["q_continue_logits"],
            f"{prefix}act.steps": carry.steps, f"{prefix}act.halted": carry.halted,
            f"{prefix}act.seq_is_correct": parts["seq_is_correct"],
            f"{prefix}loss.total": rec["total"], f"{prefix}loss.lm_loss": parts["lm_loss"],
            f"{prefix}loss.q_halt_loss": parts["q_halt_loss"], f"{prefix}loss.q_continue_loss": parts["q_continue_loss"],
            f"{prefix}lr": torch.tensor(rec["lr"], dtype=torch.float64),
            f"{prefix}puzzle_emb_lr": torch.tensor(rec["puzzle_lr"], dtype=torch.float64),
        })
        for k, v in rec["metrics"].items():
            T[f"{prefix}metrics.{k}"] = v
        for n in trm.trainable_names(cfg):
            T[f"{prefix}after.{n}"] = rec["params"][n]
        for n in adam_names:
            T[f"{prefix}ema.{n}"] = rec["shadow"][n]

    config = cfg.to_json_dict()
    config.update(TRAIN)
    config.update(seed=SEED, batch_size=B, global_batch_size=B, canvas=[CANVAS, CANVAS], ignore_label=losses.IGNORE_LABEL,
                  q_head_bias=list(Q_HEAD_BIAS), steps=2, start="fresh carry (all slots halted -> reset)",
                  trainable=trm.trainable_names(cfg), buffers=list(trm.BUFFER_NAMES), adam_tensors=adam_names,
                  sign_sgd_tensors=[trm.PUZZLE_EMB_NAME], ema_tensors=adam_names,
                  halting="steps >= halt_max_steps or q_halt > 0 (no_ACT_continue, exploration 0)",
                  loss="lm_loss + 0.5 * q_halt_loss (no q_continue loss); gradient of loss / global_batch_size",
                  ema="shadow_0 = weights before step 1; shadow_k = (1 - ema_rate) * weights_k + ema_rate * shadow_(k-1)")
    for i, rec in enumerate((rec1, rec2), 1):
        print(f"  step {i}: lr {rec['lr']:.3e} loss {rec['total'].item():.6f} (lm {rec['parts']['lm_loss'].item():.6f}, "
              f"q_halt {rec['parts']['q_halt_loss'].item():.6f}); q_halt {rec['out']['q_halt_logits'].tolist()} "
              f"q_cont {rec['out']['q_continue_logits'].tolist()}; steps {rec['carry'].steps.tolist()} "
              f"halted {rec['carry'].halted.tolist()}; ids {rec['carry'].current['puzzle_identifiers'].tolist()}")
    tiny.save(path, T, config)


def main() -> None:
    parser = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "..", "..", "Tests", "Fixtures"))
    args = parser.parse_args()
    out_dir = os.path.normpath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)  # nothing should use the global generator; fixed anyway
    make_trm_train_steps(os.path.join(out_dir, "trm_train_steps.safetensors"))


if __name__ == "__main__":
    main()
