"""Encode and decode time of transformers' Emu3VQVAE (eager, float32, 2 threads by default) with random
weights and the real Emu3 VQ shapes (base_channels 256, channel_multiplier [1,2,2,4], codebook 32768,
embed_dim 4, latent_channels 4, attention in the last level, temporal factor 4): the reference side of
`emu bench vq`. A still image is encoded as the reference does it, as 4 copies of the frame, and
decoding computes all 4 frames.

    python scripts/reference/bench_vq.py --sizes 256 512 --repeats 1

Prints one JSON object per size: seconds for encode and decode, and the process's peak RSS (MiB) after
that size (ru_maxrss is a high-water mark, so run one size per process for per-size peaks).
"""
import argparse
import json
import resource
import time

import torch
from transformers import Emu3VQVAEConfig
from transformers.models.emu3.modeling_emu3 import Emu3VQVAE


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per step; the best is reported")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = Emu3VQVAEConfig()  # the defaults are Emu3's real VQ shapes
    config._attn_implementation = "eager"
    vq = Emu3VQVAE(config).eval()
    factor = 2 ** (len(config.channel_multiplier) - 1)
    for size in args.sizes:
        pixels = torch.rand(1, 3, size, size) * 2 - 1
        encode_times, decode_times = [], []
        with torch.inference_mode():
            for _ in range(args.repeats):
                start = time.perf_counter()
                codes = vq.encode(pixels, torch.tensor([[size, size]]))[0]
                encode_times.append(time.perf_counter() - start)
            for _ in range(args.repeats):
                start = time.perf_counter()
                image = vq.decode(codes.unsqueeze(0))
                decode_times.append(time.perf_counter() - start)
        assert codes.shape == (size // factor, size // factor) and image.shape[-1] == size
        print(json.dumps({"size": size, "threads": args.threads, "encodeSeconds": min(encode_times),
                          "decodeSeconds": min(decode_times),
                          "peakRSSMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                          "decodedFrames": int(image.shape[1]) if image.ndim == 5 else 1,
                          "torch": torch.__version__}), flush=True)


if __name__ == "__main__":
    main()
