"""Checks that a checkpoint trained by `emu train lm` loads in transformers with the same logits.

`emu train lm` writes `emu_logits.safetensors` into the checkpoint folder: `input_ids` [1, S] and
our logits [S, vocab] for them. This script loads the folder with
`Emu3ForConditionalGeneration.from_pretrained`, runs the same ids in float32, eval mode, and
compares. Exit status 1 when the largest difference exceeds the tolerance.
    python check_trained.py CHECKPOINT_FOLDER [--tolerance 1e-4]
"""
import argparse
import json
import sys

import torch
from safetensors.torch import load_file
from transformers import Emu3ForConditionalGeneration


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="max |diff| relative to max |logit|")
    args = ap.parse_args()
    dumped = load_file(f"{args.folder}/emu_logits.safetensors")
    ids = dumped["input_ids"].long()
    ours = dumped["logits"].float()
    model = Emu3ForConditionalGeneration.from_pretrained(args.folder, torch_dtype=torch.float32,
                                                         attn_implementation="eager").eval()
    with torch.no_grad():
        theirs = model(input_ids=ids).logits[0].float()
    diff = (theirs - ours).abs().max().item()
    scale = theirs.abs().max().item()
    same_argmax = (theirs.argmax(-1) == ours.argmax(-1)).float().mean().item()
    report = {"folder": args.folder, "tokens": ids.shape[1], "vocab": theirs.shape[-1],
              "parameters": sum(p.numel() for p in model.model.text_model.parameters()) + model.lm_head.weight.numel(),
              "max_abs_diff": diff, "max_abs_logit": scale, "relative": diff / max(scale, 1e-12),
              "argmax_agreement": same_argmax, "ok": diff / max(scale, 1e-12) <= args.tolerance}
    print(json.dumps(report, indent=1))
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
