"""Golden values for EmuTraining's optimizer and loss, from PyTorch (fixed seed).

Writes Tests/Fixtures/training/{adamw,cross_entropy,clip}.json. Run with the reference venv:
    scripts/reference/.venv/bin/python scripts/reference/make_training_fixtures.py
"""
import json
import pathlib

import torch

OUT = pathlib.Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "training"
OUT.mkdir(parents=True, exist_ok=True)
torch.manual_seed(1234)


def flat(t):
    return [float(x) for x in t.detach().reshape(-1)]


def adamw():
    weight = torch.randn(3, 5)
    norm = torch.randn(5)
    params = {"layer.weight": weight.clone().requires_grad_(), "layer.norm.weight": norm.clone().requires_grad_()}
    opt = torch.optim.AdamW([
        {"params": [params["layer.weight"]], "weight_decay": 0.1},
        {"params": [params["layer.norm.weight"]], "weight_decay": 0.0},
    ], lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    steps = []
    for _ in range(4):
        grads = {k: torch.randn_like(v) for k, v in params.items()}
        for k, v in params.items():
            v.grad = grads[k].clone()
        opt.step()
        steps.append({"grads": {k: flat(g) for k, g in grads.items()},
                      "params_after": {k: flat(v) for k, v in params.items()}})
    return {"lr": 1e-2, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1,
            "shapes": {k: list(v.shape) for k, v in params.items()},
            "initial": {"layer.weight": flat(weight), "layer.norm.weight": flat(norm)}, "steps": steps}


def cross_entropy():
    logits = torch.randn(6, 11, requires_grad=True)
    targets = torch.tensor([1, 4, 0, 10, 7, 3])
    weights = torch.tensor([1.0, 0.5, 0.0, 1.0, 0.5, 1.0])
    per = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    loss = (per * weights).sum() / weights.sum()
    loss.backward()
    return {"logits": flat(logits), "shape": [6, 11], "targets": targets.tolist(), "weights": weights.tolist(),
            "loss": float(loss), "grad": flat(logits.grad)}


def clip():
    grads = [torch.randn(4, 3) * 3, torch.randn(7) * 3]
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm=1.0)
    return {"grads": [flat(g) for g in grads], "shapes": [list(g.shape) for g in grads], "max_norm": 1.0,
            "norm": float(norm), "clipped": [flat(p.grad) for p in params]}


meta = {"torch": torch.__version__, "seed": 1234}
for name, fn in [("adamw", adamw), ("cross_entropy", cross_entropy), ("clip", clip)]:
    data = fn()
    data["meta"] = meta
    (OUT / f"{name}.json").write_text(json.dumps(data))
print("wrote", OUT)
