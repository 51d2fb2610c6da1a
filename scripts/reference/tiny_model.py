"""The tiny random-weight Emu3: configuration, seeded initialisation, VQ latent centring, saving."""

import math

import torch
from transformers import Emu3Config, Emu3ForConditionalGeneration

TEXT_CONFIG = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    hidden_act="silu",
    max_position_embeddings=1024,
    rms_norm_eps=1e-5,
    rope_theta=1_000_000.0,
    rope_scaling={"rope_type": "default"},
    attention_dropout=0.0,
    tie_word_embeddings=False,
    initializer_range=0.02,
)

VQ_CONFIG = dict(
    codebook_size=256,
    embed_dim=4,
    latent_channels=4,
    double_latent=False,
    in_channels=3,
    out_channels=3,
    temporal_downsample_factor=4,
    base_channels=32,
    channel_multiplier=[1, 2, 2],
    num_res_blocks=1,
    attn_resolutions=[2],  # like the real [3]: attention at the deepest level only
    hidden_size=64,  # spec trap: attention width = base_channels * channel_multiplier[-1]
    num_attention_heads=1,
    attention_dropout=0.0,
)


def build_config(vocabulary: dict, model_vocab_size: int) -> Emu3Config:
    text = dict(TEXT_CONFIG)
    text.update(
        vocab_size=model_vocab_size,
        pad_token_id=vocabulary["<|endoftext|>"],
        bos_token_id=vocabulary["<|extra_203|>"],
        eos_token_id=vocabulary["<|extra_204|>"],
    )
    return Emu3Config(text_config=text, vq_config=dict(VQ_CONFIG), vocabulary_map=vocabulary)


def _fill(tensor: torch.Tensor, values: torch.Tensor) -> None:
    with torch.no_grad():
        tensor.copy_(values.to(tensor.dtype))


def randomize(model: Emu3ForConditionalGeneration, generator: torch.Generator) -> None:
    """Overwrites every parameter and float buffer from `generator`, in sorted-name order, with
    scales that keep activations O(1) and make norm affines, biases and BatchNorm statistics
    non-trivial (a default init of ones and zeros would hide bugs in them)."""
    state = dict(model.named_parameters())
    state.update({name: buffer for name, buffer in model.named_buffers() if buffer.is_floating_point()})
    for name in sorted(state):
        tensor = state[name]
        shape = tensor.shape
        randn = lambda scale: torch.randn(shape, generator=generator) * scale  # noqa: E731
        if "inv_freq" in name:
            continue  # RoPE frequencies are derived from the config, not weights
        if name.startswith("model.text_model") or name.startswith("lm_head"):
            if name.endswith("norm.weight") or "layernorm" in name:
                _fill(tensor, 1.0 + randn(0.1))
            elif "embed_tokens" in name:
                _fill(tensor, randn(0.5))
            else:
                _fill(tensor, randn(1.0 / math.sqrt(shape[-1])) * 0.8)
            continue
        # VQ-VAE
        if name.endswith("running_var"):
            _fill(tensor, 0.5 + torch.rand(shape, generator=generator))
        elif name.endswith("running_mean"):
            _fill(tensor, randn(0.1))
        elif "quantize.embedding" in name:
            _fill(tensor, randn(1.0))  # replaced after centring
        elif tensor.dim() == 1:
            is_norm_weight = name.endswith(".weight") and ("norm" in name)
            is_spatial_scale = "conv_y.bias" in name
            _fill(tensor, 1.0 + randn(0.1) if (is_norm_weight or is_spatial_scale) else randn(0.05))
        else:
            fan_in = tensor[0].numel()
            scale = 0.3 if "conv_y" in name or "conv_b" in name else 1.0
            _fill(tensor, randn(scale / math.sqrt(fan_in)))


def round_to_bfloat16(model: torch.nn.Module) -> None:
    """Makes every float weight exactly representable in bfloat16, so the bf16 checkpoint widened to
    float32 is the model the goldens were computed with."""
    with torch.no_grad():
        for tensor in list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]:
            tensor.copy_(tensor.to(torch.bfloat16).to(torch.float32))


def vq_latents(vq, pixel_values: torch.Tensor) -> torch.Tensor:
    """Pre-quantisation latents [B, T', C, h, w] exactly as Emu3VQVAE.encode computes them."""
    hidden = vq.encoder(pixel_values)
    hidden = vq.quant_conv(hidden.permute(0, 2, 1, 3, 4))
    return hidden.permute(0, 2, 1, 3, 4)


def centre_vq_latents(vq, generator: torch.Generator) -> None:
    """Rescales quant_conv so the latents of random clips are zero-mean, unit-variance per channel and
    draws the codebook from N(0, 1): codes then spread over the codebook, and the nearest-code search
    has distance gaps far above float32 rounding (raw random latents are ~0.03 in size, which makes
    near-ties everywhere)."""
    with torch.no_grad():
        pixels = torch.rand((8, 4, 3, 16, 16), generator=generator) * 2 - 1
        latents = vq_latents(vq, pixels)  # [B, T', C, h, w]
        channels = latents.shape[2]
        flat = latents.permute(2, 0, 1, 3, 4).reshape(channels, -1)
        mean, std = flat.mean(dim=1), flat.std(dim=1)
        conv = vq.quant_conv.conv
        conv.weight /= std.view(-1, 1, 1, 1, 1)
        conv.bias.copy_((conv.bias - mean) / std)
        codebook = torch.randn(vq.quantize.embedding.weight.shape, generator=generator)
        vq.quantize.embedding.weight.copy_(codebook)
