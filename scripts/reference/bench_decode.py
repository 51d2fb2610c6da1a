"""Prefill and KV-cache decode tokens/s of transformers' Emu3 text model (eager, float32, 2 threads)
with random weights, on the configurations of `emu bench decode` (same sizes, same token counts).

    python scripts/reference/bench_decode.py --size 100m --prompt 128 --tokens 32
"""
import argparse
import json
import time

import torch
from transformers import Emu3TextConfig
from transformers.models.emu3.modeling_emu3 import Emu3TextModel
from transformers.cache_utils import DynamicCache

SIZES = {
    "tiny": dict(vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2),
    "100m": dict(vocab_size=32000, hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                 num_attention_heads=12, num_key_value_heads=4),
    "1b": dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=16,
               num_attention_heads=16, num_key_value_heads=8),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", default="100m", choices=SIZES)
    parser.add_argument("--prompt", type=int, default=128)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = Emu3TextConfig(**SIZES[args.size], rope_theta=1e6, rms_norm_eps=1e-5, max_position_embeddings=9216,
                            attention_dropout=0.0, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    config._attn_implementation = "eager"
    model = Emu3TextModel(config).eval()
    head = torch.nn.Linear(config.hidden_size, config.vocab_size, bias=False)
    parameters = sum(p.numel() for p in model.parameters()) + head.weight.numel()
    ids = torch.randint(0, config.vocab_size, (1, args.prompt + args.tokens))
    with torch.inference_mode():
        cache = DynamicCache()
        start = time.perf_counter()
        out = model(ids[:, :args.prompt], past_key_values=cache, use_cache=True)
        head(out.last_hidden_state[:, -1])
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        for t in range(args.prompt, args.prompt + args.tokens):
            out = model(ids[:, t:t + 1], past_key_values=cache, use_cache=True)
            head(out.last_hidden_state[:, -1])
        decode = time.perf_counter() - start
    print(json.dumps({"size": args.size, "parameters": parameters, "threads": args.threads,
                      "promptTokens": args.prompt, "decodeTokens": args.tokens,
                      "prefillTokensPerSecond": args.prompt / prefill, "decodeTokensPerSecond": args.tokens / decode,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
