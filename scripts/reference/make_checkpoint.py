#!/usr/bin/env python3
"""Writes the tiny random-weight Emu3 checkpoint (Tests/Fixtures/tiny-emu3/, the -hf layout) and the
golden outputs of transformers' Emu3 on it (Tests/Fixtures/golden/). Fixed seeds: re-running it
rewrites identical files. Usage: scripts/reference/.venv/bin/python scripts/reference/make_checkpoint.py
"""

import argparse
import json
import os
import shutil
import sys

import torch
from transformers import (
    Emu3ForConditionalGeneration,
    Emu3ImageProcessor,
    Emu3Processor,
    GenerationConfig,
    GPT2TokenizerFast,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import goldens  # noqa: E402
import tiny_model  # noqa: E402
import tiny_tokenizer  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHECKPOINT = os.path.join(REPO, "Tests", "Fixtures", "tiny-emu3")
GOLDEN = os.path.join(REPO, "Tests", "Fixtures", "golden")

BPE_VOCAB_SIZE = 1196  # 256 byte symbols + 940 merges (keeps the folder under 3,000,000 bytes)
CODEBOOK_SIZE = tiny_model.VQ_CONFIG["codebook_size"]
SPATIAL_FACTOR = 2 ** (len(tiny_model.VQ_CONFIG["channel_multiplier"]) - 1)

# The chat template of the -hf conversion: roles in upper case, images before text, "ASSISTANT:".
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>' }}{% endfor %}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}"
    "{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

EXTRA_SPECIAL_TOKENS = {
    "image_token": "<image>",
    "boi_token": "<|image start|>",
    "eoi_token": "<|image end|>",
    "image_wrapper_token": "<|image token|>",
    "eof_token": "<|extra_201|>",
}


TINY_IMAGE_PROCESSOR = dict(min_pixels=16 * 16, max_pixels=64 * 64, spatial_factor=SPATIAL_FACTOR)


def write_processor(directory: str, tokenizer_json: dict, image_processor_kwargs: dict = TINY_IMAGE_PROCESSOR,
                    model_max_length: int = tiny_model.TEXT_CONFIG["max_position_embeddings"]) -> Emu3Processor:
    """Tokenizer and image-processor files exactly as Emu3Processor.save_pretrained writes them."""
    staging = os.path.join(directory, ".staging")
    os.makedirs(staging, exist_ok=True)
    with open(os.path.join(staging, "tokenizer.json"), "w", encoding="utf-8") as handle:
        json.dump(tokenizer_json, handle, ensure_ascii=False)
    tokenizer = GPT2TokenizerFast(
        tokenizer_file=os.path.join(staging, "tokenizer.json"),
        bos_token="<|extra_203|>",
        eos_token="<|extra_204|>",
        pad_token="<|endoftext|>",
        add_prefix_space=False,
        clean_up_tokenization_spaces=False,
        extra_special_tokens=EXTRA_SPECIAL_TOKENS,
        padding_side="left",
        model_max_length=model_max_length,
    )
    shutil.rmtree(staging)
    image_processor = Emu3ImageProcessor(
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
        **image_processor_kwargs,
    )
    processor = Emu3Processor(image_processor, tokenizer, chat_template=CHAT_TEMPLATE)
    processor.save_pretrained(directory, save_jinja_files=False)
    processor_config = os.path.join(directory, "processor_config.json")
    if not os.path.exists(processor_config):
        common.write_json(processor_config, {"processor_class": "Emu3Processor"})
    return processor


def write_checkpoint(directory: str) -> None:
    common.make_deterministic()
    tokenizer_json = tiny_tokenizer.build_tokenizer_json(BPE_VOCAB_SIZE, CODEBOOK_SIZE, common.SEED)
    vocabulary = tokenizer_json["model"]["vocab"]
    model_vocab_size = (len(vocabulary) + 63) // 64 * 64
    config = tiny_model.build_config(vocabulary, model_vocab_size)

    generator = torch.Generator().manual_seed(common.SEED)
    model = Emu3ForConditionalGeneration(config).eval()
    tiny_model.randomize(model, generator)
    tiny_model.centre_vq_latents(model.model.vqmodel, generator)
    tiny_model.round_to_bfloat16(model)

    if os.path.isdir(directory):
        shutil.rmtree(directory)
    model.generation_config = GenerationConfig(
        bos_token_id=vocabulary["<|extra_203|>"],
        eos_token_id=vocabulary["<|extra_204|>"],
        pad_token_id=vocabulary["<|endoftext|>"],
        do_sample=False,
        max_new_tokens=64,
    )
    model.to(torch.bfloat16).save_pretrained(directory, safe_serialization=True)
    write_processor(directory, tokenizer_json)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-checkpoint", action="store_true", help="reuse the existing tiny-emu3 folder")
    parser.add_argument("--only", default=None, help="comma-separated golden names to write")
    args = parser.parse_args()
    if not args.skip_checkpoint:
        write_checkpoint(CHECKPOINT)
    goldens.write_all(CHECKPOINT, GOLDEN, SPATIAL_FACTOR, only=args.only.split(",") if args.only else None)


if __name__ == "__main__":
    main()
