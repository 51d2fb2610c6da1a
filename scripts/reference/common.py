"""Shared helpers of the reference scripts: determinism, metadata, JSON and margin utilities."""

import json
import os
import random

import numpy as np
import torch
import transformers

SEED = 20240927  # Emu3's arXiv date; every random draw derives from it


def make_deterministic(seed: int = SEED) -> None:
    """One thread and fixed seeds, so that re-running writes bit-identical files."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.use_deterministic_algorithms(True)


def meta(producer: str, **extra) -> dict:
    block = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "seed": SEED,
        "producer": producer,
        "script": "scripts/reference/make_checkpoint.py",
        "dtype": "float32 compute; checkpoint weights stored as bfloat16 and widened exactly",
        "attn_implementation": "eager",
    }
    block.update(extra)
    return block


def write_json(path: str, payload: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=1, ensure_ascii=False, sort_keys=False)
        handle.write("\n")


def floats(tensor: torch.Tensor) -> list:
    """A float32 tensor as nested lists of Python floats (repr round-trips float32 exactly)."""
    return tensor.detach().to(torch.float32).cpu().tolist()


def top_two_margin(scores: torch.Tensor) -> float:
    """Gap between the best and second-best finite score of a 1-D row; inf when only one is finite."""
    finite = scores[torch.isfinite(scores)]
    if finite.numel() < 2:
        return float("inf")
    top = torch.topk(finite, 2).values
    return float(top[0] - top[1])


def hub_name(name: str) -> str:
    """In-memory module name -> the name save_pretrained writes (and the -hf checkpoints use)."""
    for memory, hub in (("model.text_model.", "text_model.model."), ("model.vqmodel.", "vqmodel."),
                        ("lm_head.", "text_model.lm_head.")):
        if name.startswith(memory):
            return hub + name[len(memory):]
    raise ValueError(f"unexpected parameter name {name}")
