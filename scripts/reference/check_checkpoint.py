#!/usr/bin/env python3
"""Loads an Emu3 checkpoint folder with transformers' Emu3ForConditionalGeneration.from_pretrained,
prints its logits for an id sequence and, given a logits file written by another implementation (our
Swift side), their maximum absolute difference. Exit status 1 when the difference exceeds the tolerance.

    check_checkpoint.py DIR [OTHER_LOGITS] [--ids IDS.json] [--out LOGITS.safetensors] [--tolerance 1e-4]

OTHER_LOGITS: .safetensors with a float tensor "logits" [S, vocab] (or [1, S, vocab]) and optionally an
int tensor "input_ids" [S]; or .json, either {"ids": [...], "logits": [[...], ...]} or a bare [S][vocab]
array. When the file carries ids, those ids are used; otherwise --ids, otherwise a fixed sequence built
from the checkpoint's vocabulary_map (BOS, a few byte tokens, BOI, IMG, visual tokens, EOL, EOF, EOI).
"""

import argparse
import json
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import Emu3ForConditionalGeneration


def default_ids(config) -> list[int]:
    vocab = config.vocabulary_map or {}
    special = lambda name: vocab[name]  # noqa: E731
    visual = sorted(v for k, v in vocab.items() if k.startswith("<|visual token"))
    ids = [special("<|extra_203|>")] + list(range(40, 52))  # BOS then ids of byte-level symbols
    ids += [special("<|image start|>"), special("<|image token|>")]
    ids += [visual[(17 * k) % len(visual)] for k in range(4)] + [special("<|extra_200|>")]
    ids += [special("<|extra_201|>"), special("<|image end|>")]
    return ids


def read_other(path: str):
    if path.endswith(".safetensors"):
        tensors = load_file(path)
        logits = tensors["logits"].to(torch.float32)
        ids = tensors.get("input_ids")
        return (ids.flatten().tolist() if ids is not None else None), logits.reshape(-1, logits.shape[-1])
    with open(path, encoding="utf-8") as handle:
        payload = json.load(handle)
    if isinstance(payload, dict):
        return payload.get("ids") or payload.get("input_ids"), torch.tensor(payload["logits"], dtype=torch.float32)
    logits = torch.tensor(payload, dtype=torch.float32)
    return None, logits.reshape(-1, logits.shape[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("other", nargs="?", help="logits written by another implementation")
    parser.add_argument("--ids", help="JSON array of ids to score")
    parser.add_argument("--out", help="write our logits (and ids) to this .safetensors file")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="allowed max |difference| relative to max(1, max |logit|)")
    args = parser.parse_args()

    torch.set_num_threads(max(1, torch.get_num_threads()))
    model = Emu3ForConditionalGeneration.from_pretrained(
        args.checkpoint, dtype=torch.float32, attn_implementation="eager").eval()

    other_ids, other_logits = (None, None)
    if args.other:
        other_ids, other_logits = read_other(args.other)
    if other_ids is not None:
        ids = [int(i) for i in other_ids]
    elif args.ids:
        with open(args.ids, encoding="utf-8") as handle:
            ids = [int(i) for i in json.load(handle)]
    else:
        ids = default_ids(model.config)

    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0]
    torch.set_printoptions(precision=6, linewidth=120)
    print(f"checkpoint: {args.checkpoint}")
    print(f"ids ({len(ids)}): {ids}")
    print(f"logits: shape {list(logits.shape)}, max |logit| {logits.abs().max().item():.6f}")
    print(f"last row, first 8: {logits[-1, :8]}")
    print(f"argmax per position: {logits.argmax(dim=-1).tolist()}")
    if args.out:
        save_file({"input_ids": torch.tensor(ids, dtype=torch.int64), "logits": logits.contiguous()}, args.out)
        print(f"wrote {args.out}")
    if other_logits is None:
        return 0
    if other_logits.shape != logits.shape:
        print(f"shape mismatch: ours {list(logits.shape)}, theirs {list(other_logits.shape)}")
        return 1
    difference = (other_logits - logits).abs().max().item()
    scale = max(1.0, logits.abs().max().item())
    verdict = "OK" if difference <= args.tolerance * scale else "MISMATCH"
    print(f"max abs difference vs {args.other}: {difference:.3e} (tolerance {args.tolerance * scale:.3e}) {verdict}")
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
