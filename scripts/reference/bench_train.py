"""PyTorch eager float32 reference for the training-throughput benchmark (issue 5).

One step = forward + backward + AdamW on a ~20M-parameter Emu3 text model at sequence length 512,
on the CPU with a fixed thread count. Prints one JSON line: tokens/s and peak RSS.
    python bench_train.py --threads 2 --steps 5
"""
import argparse
import json
import resource
import time

import torch
from transformers import Emu3TextConfig
from transformers.models.emu3.modeling_emu3 import Emu3ForCausalLM

PRESETS = {
    # hidden 384, 8 layers, 6 heads (64 wide), 2 KV heads, MLP 1024, vocab 8192: ~19.9M parameters.
    "20m": dict(hidden_size=384, num_hidden_layers=8, num_attention_heads=6, num_key_value_heads=2,
                intermediate_size=1024, vocab_size=8192),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="20m", choices=PRESETS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=512)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = Emu3TextConfig(max_position_embeddings=4096, rope_theta=1e6, rms_norm_eps=1e-5,
                            pad_token_id=0, bos_token_id=1, eos_token_id=2, attn_implementation="eager", **PRESETS[args.preset])
    model = Emu3ForCausalLM(config).float().train()
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
    ids = torch.randint(0, config.vocab_size, (args.batch, args.seq + 1))
    times = []
    for step in range(args.steps + 1):
        start = time.perf_counter()
        out = model(input_ids=ids[:, :-1], labels=ids[:, :-1])
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if step > 0:  # the first step warms up allocators and caches
            times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2]
    print(json.dumps({"impl": "pytorch-eager-fp32", "torch": torch.__version__, "threads": args.threads,
                      "parameters": params, "batch": args.batch, "seq": args.seq,
                      "step_seconds_median": median, "tokens_per_second": args.batch * args.seq / median,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
