"""Checks a vision tokenizer trained by `emu train vq` against transformers.

Loads the checkpoint folder with `Emu3VQVAE.from_pretrained`, encodes the images saved by emu
in `vq_check.safetensors` (pixel_values [N, 3, H, W]) and decodes the codes, then compares with
emu's codes (exactly) and reconstructions (max abs difference).

usage: python check_trained_vq.py CHECKPOINT_DIR [--tolerance 1e-3]
"""
import argparse
import os
import sys

import torch
from safetensors.torch import load_file
from transformers import Emu3VQVAE


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args()

    model = Emu3VQVAE.from_pretrained(args.checkpoint, torch_dtype=torch.float32).eval()
    check = load_file(os.path.join(args.checkpoint, "vq_check.safetensors"))
    pixels = check["pixel_values"].float()
    emu_codes = check["codes"].long()
    emu_reconstruction = check["reconstruction"].float()
    n, _, height, width = pixels.shape
    sizes = torch.tensor([[height, width]] * n)
    with torch.no_grad():
        codes = torch.stack(model.encode(pixels, sizes))
        reconstruction = model.decode(codes)
    same_codes = int((codes == emu_codes).sum())
    diff = float((reconstruction - emu_reconstruction).abs().max())
    from_codes = model.decode(emu_codes) if same_codes != codes.numel() else reconstruction
    diff_from_emu_codes = float((from_codes - emu_reconstruction).abs().max())
    mse = float(((reconstruction - pixels) ** 2).mean())
    print(f"transformers Emu3VQVAE loaded {args.checkpoint}: {n} images {height}x{width}, codes {tuple(codes.shape)}")
    print(f"codes equal: {same_codes}/{codes.numel()}")
    print(f"reconstruction max |transformers - emu|: {diff:.3e} (decoding emu's codes: {diff_from_emu_codes:.3e}); "
          f"transformers reconstruction MSE vs input {mse:.5f}")
    ok = same_codes == codes.numel() and diff <= args.tolerance
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
