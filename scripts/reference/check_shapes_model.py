"""Checks that a ShapesWorld model folder (`emu train --recipe shapes`, VQ-VAE codec) is an Emu3
checkpoint that transformers loads, and that its vision tokenizer codes pictures as emu does.

Loads the folder with `Emu3ForConditionalGeneration.from_pretrained` (no unexpected weights; only
BatchNorm's `num_batches_tracked` counters may be missing), draws a few 64x64 pictures, codes them
with transformers' VQ-VAE and with `emu vq encode --json`, and compares the codes: equal, or a
near-tie (the two entries' squared distances to the latent differ by less than float32 rounding of
|x|^2 + |e|^2 - 2 x.e, taken as 1e-6 of the magnitudes, about 8 float32 epsilons).

usage: python check_shapes_model.py MODEL_DIR [--emu .build/release/emu] [--pictures 8]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image, ImageDraw
from transformers import Emu3ForConditionalGeneration


def pictures(count, folder):
    rng = np.random.default_rng(0)
    colours = [(220, 40, 40), (40, 80, 220), (40, 200, 60), (230, 220, 40), (40, 210, 220), (150, 60, 200)]
    paths = []
    for i in range(count):
        image = Image.new("RGB", (64, 64), "black")
        draw = ImageDraw.Draw(image)
        for _ in range(rng.integers(1, 4)):
            x, y, size = int(rng.integers(2, 50)), int(rng.integers(2, 50)), int(rng.choice([7, 13]))
            colour = colours[int(rng.integers(len(colours)))]
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x, y, x + size, y + size], fill=colour)
        path = os.path.join(folder, f"picture_{i}.png")
        image.save(path)
        paths.append(path)
    return paths


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--emu", default=".build/release/emu")
    parser.add_argument("--pictures", type=int, default=8)
    args = parser.parse_args()

    model, info = Emu3ForConditionalGeneration.from_pretrained(args.model, dtype=torch.float32, output_loading_info=True)
    model.eval()
    missing = [k for k in info["missing_keys"] if not k.endswith("num_batches_tracked")]
    print(f"transformers loaded {args.model}: {sum(p.numel() for p in model.parameters())} parameters; "
          f"unexpected {info['unexpected_keys']}, missing (besides num_batches_tracked) {missing}")
    ok = not info["unexpected_keys"] and not missing

    with tempfile.TemporaryDirectory() as folder:
        paths = pictures(args.pictures, folder)
        emu = json.loads(subprocess.run([args.emu, "vq", "encode", "--model", args.model, "--json", *paths],
                                        check=True, capture_output=True, text=True).stdout)
        emu = emu if isinstance(emu, list) else [emu]
        latents = []
        model.model.vqmodel.quantize.register_forward_hook(lambda module, inputs, output: latents.append(inputs[0]))
        equal = ties = total = 0
        codebook = model.model.vqmodel.quantize.embedding.weight.detach()
        for path, result in zip(paths, emu):
            pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
            x = torch.tensor(((pixels - 0.5) / 0.5).transpose(2, 0, 1)[None], dtype=torch.float32)
            with torch.no_grad():
                codes = model.model.vqmodel.encode(x, torch.tensor([[64, 64]]))[0].flatten()
            theirs = torch.tensor(result["codes"]).flatten()
            # quantize's input [1, T, C, H, W] -> one latent per code, in raster order.
            latent = latents[-1][0, 0].permute(1, 2, 0).reshape(-1, codebook.shape[1])
            for i in range(codes.numel()):
                if codes[i] == theirs[i]:
                    equal += 1
                    continue
                d = ((codebook[[int(codes[i]), int(theirs[i])]] - latent[i]) ** 2).sum(dim=1)
                # Float32 computes |x|^2 + |e|^2 - 2 x.e with cancellation: a tie is closer than
                # its rounding, 1e-6 of the magnitudes involved (about 8 float32 epsilons).
                scale = float((latent[i] ** 2).sum() + (codebook[[int(codes[i]), int(theirs[i])]] ** 2).sum())
                ties += int(abs(float(d[0] - d[1])) <= 1e-6 * scale)
            total += codes.numel()
    print(f"codes equal: {equal}/{total}; differing by a near-tie: {ties}")
    ok = ok and equal + ties == total
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
