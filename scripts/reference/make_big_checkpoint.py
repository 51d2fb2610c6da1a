#!/usr/bin/env python3
"""Writes a random bfloat16 Emu3 checkpoint with the real Emu3-Gen/Chat shapes in the -hf layout
(sharded safetensors + index, config.json, tokenizer and processor files), shard by shard, without
ever holding the model in memory: shapes come from a transformers model built on the meta device and
values are generated chunk by chunk with numpy. For load-time, memory and decode-speed measurements;
not run in CI, never committed.

    make_big_checkpoint.py OUT [--preset 8.5b|tiny-check] [--max-shard-bytes N] [--dry-run]
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from transformers import Emu3Config, Emu3ForConditionalGeneration

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import make_checkpoint  # noqa: E402
import tiny_model  # noqa: E402
import tiny_tokenizer  # noqa: E402

PRESETS = {
    # The published Emu3-Gen-hf / Emu3-Chat-hf shapes (transformers' Emu3 config defaults).
    "8.5b": dict(
        bpe_size=151_643,
        text=dict(vocab_size=184_622, hidden_size=4096, intermediate_size=14_336, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=9216,
                  rms_norm_eps=1e-5, rope_theta=1_000_000.0, rope_scaling={"rope_type": "default"},
                  attention_dropout=0.1),
        vq=dict(codebook_size=32_768, embed_dim=4, latent_channels=4, double_latent=False, in_channels=3,
                out_channels=3, temporal_downsample_factor=4, base_channels=256, channel_multiplier=[1, 2, 2, 4],
                num_res_blocks=2, attn_resolutions=[3], hidden_size=1024, num_attention_heads=1,
                attention_dropout=0.0),
        image_processor=dict(min_pixels=512 * 512, max_pixels=1024 * 1024, spatial_factor=8),
        max_shard_bytes=5_000_000_000,
    ),
    # Same code path at toy size, to check the writer end to end in seconds.
    "tiny-check": dict(
        bpe_size=300,
        text=dict(tiny_model.TEXT_CONFIG, vocab_size=768),
        vq=dict(tiny_model.VQ_CONFIG),
        image_processor=dict(min_pixels=16 * 16, max_pixels=64 * 64, spatial_factor=4),
        max_shard_bytes=400_000,
    ),
}

BF16_ONE = 0x3F80
CHUNK_ELEMENTS = 1 << 24


def preset_config(preset: dict, vocabulary: dict) -> Emu3Config:
    text = dict(preset["text"])
    assert text["vocab_size"] >= len(vocabulary), "model vocabulary smaller than the tokenizer"
    text.update(pad_token_id=vocabulary["<|endoftext|>"], bos_token_id=vocabulary["<|extra_203|>"],
                eos_token_id=vocabulary["<|extra_204|>"])
    return Emu3Config(text_config=text, vq_config=dict(preset["vq"]), vocabulary_map=vocabulary)


def tensor_plan(config: Emu3Config) -> list:
    """(hub name, shape, safetensors dtype) of every persistent tensor, in state_dict order."""
    with torch.device("meta"):
        model = Emu3ForConditionalGeneration(config)
    plan = []
    for name, tensor in model.state_dict().items():
        dtype = "I64" if tensor.dtype == torch.int64 else "BF16"
        plan.append((common.hub_name(name), list(tensor.shape), dtype))
    return plan


def nbytes(shape: list, dtype: str) -> int:
    return math.prod(shape) * (8 if dtype == "I64" else 2)


def split_shards(plan: list, max_shard_bytes: int) -> list:
    shards, current, size = [], [], 0
    for entry in plan:
        entry_bytes = nbytes(entry[1], entry[2])
        if current and size + entry_bytes > max_shard_bytes:
            shards.append(current)
            current, size = [], 0
        current.append(entry)
        size += entry_bytes
    if current:
        shards.append(current)
    return shards


def shard_header(entries: list) -> bytes:
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, dtype in entries:
        size = nbytes(shape, dtype)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)  # keep the data 8-byte aligned, as the safetensors library does
    return struct.pack("<Q", len(encoded)) + encoded


def constant_value(name: str, shape: list) -> int | None:
    """bf16 bit pattern for tensors that must not be random (norm scales, BatchNorm statistics, biases)."""
    if name.endswith("running_var"):
        return BF16_ONE
    if name.endswith("running_mean") or (len(shape) == 1 and name.endswith(".bias")):
        return 0
    if len(shape) == 1 and name.endswith(".weight"):
        return BF16_ONE  # RMSNorm, GroupNorm and BatchNorm scales
    return None


def write_tensor(handle, name: str, shape: list, dtype: str, rng: np.random.Generator) -> None:
    count = math.prod(shape)
    if dtype == "I64":
        handle.write(np.zeros(count, dtype="<i8").tobytes())
        return
    constant = constant_value(name, shape)
    for start in range(0, count, CHUNK_ELEMENTS):
        n = min(CHUNK_ELEMENTS, count - start)
        if constant is not None:
            handle.write(np.full(n, constant, dtype="<u2").tobytes())
            continue
        bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint16)
        # sign and 7 mantissa bits random, exponent 2^-9 ... 2^-6: |w| in [0.002, 0.03), std about 0.012
        exponent = (118 + ((bits >> 7) & 3)).astype(np.uint16) << 7
        handle.write(((bits & 0x807F) | exponent).astype("<u2").tobytes())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="8.5b")
    parser.add_argument("--max-shard-bytes", type=int, default=None)
    parser.add_argument("--seed", type=int, default=common.SEED)
    parser.add_argument("--dry-run", action="store_true", help="print the plan (shapes, shards, sizes) only")
    args = parser.parse_args()

    preset = PRESETS[args.preset]
    codebook = preset["vq"]["codebook_size"]
    tokenizer_json = tiny_tokenizer.filler_tokenizer_json(preset["bpe_size"], codebook)
    vocabulary = tokenizer_json["model"]["vocab"]
    config = preset_config(preset, vocabulary)
    plan = tensor_plan(config)
    shards = split_shards(plan, args.max_shard_bytes or preset["max_shard_bytes"])
    total_bytes = sum(nbytes(shape, dtype) for _, shape, dtype in plan)
    parameters = sum(math.prod(shape) for name, shape, dtype in plan if dtype == "BF16")
    text_parameters = sum(math.prod(shape) for name, shape, _ in plan if name.startswith("text_model."))
    print(f"preset {args.preset}: {len(plan)} tensors, {parameters:,} bf16 values "
          f"({text_parameters:,} in the text model), {total_bytes / 2**30:.2f} GiB, {len(shards)} shard(s); "
          f"tokenizer {len(vocabulary):,} tokens, model vocab {config.text_config.vocab_size:,}")
    if args.dry_run:
        for index, entries in enumerate(shards):
            print(f"  shard {index + 1}: {len(entries)} tensors, "
                  f"{sum(nbytes(s, d) for _, s, d in entries) / 2**30:.3f} GiB, header {len(shard_header(entries))} bytes")
        return 0

    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    weight_map = {}
    for index, entries in enumerate(shards):
        filename = (f"model-{index + 1:05d}-of-{len(shards):05d}.safetensors" if len(shards) > 1
                    else "model.safetensors")
        path = os.path.join(args.out, filename)
        with open(path + ".partial", "wb") as handle:
            handle.write(shard_header(entries))
            for name, shape, dtype in entries:
                write_tensor(handle, name, shape, dtype, rng)
                weight_map[name] = filename
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(path + ".partial", path)
        print(f"wrote {filename}")
    if len(shards) > 1:
        common.write_json(os.path.join(args.out, "model.safetensors.index.json"),
                          {"metadata": {"total_size": total_bytes}, "weight_map": weight_map})
    config.torch_dtype = torch.bfloat16
    config.save_pretrained(args.out)
    make_checkpoint.write_processor(args.out, tokenizer_json, preset["image_processor"],
                                    config.text_config.max_position_embeddings)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
