"""Writes the safetensors fixtures of Tests/Fixtures/io with the real Python library.

python_dtypes.safetensors  every dtype our reader decodes (including ones it converts:
                           F64, I16, U16, U32, U64), read back by SafetensorsFixtureTests.
python_writer.safetensors  the dtypes `Tensor` has; our writer must reproduce its bytes exactly.
*.json                     name -> {dtype, shape, values} (values exact, as float64/int).
Deterministic: no randomness. Run: python scripts/reference/make_io_fixtures.py
"""
import json
import pathlib

import torch
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "io"


def ramp(n, dtype, scale=1.0, shift=0.0):
    return (torch.arange(n, dtype=torch.float64) * scale + shift).to(dtype)


def tensors_of_tensor_dtypes():
    return {
        "layer.10.weight": ramp(6, torch.float32, 0.37, -1.1).reshape(2, 3),
        "layer.2.weight": ramp(4, torch.bfloat16, 0.3, -0.5).reshape(2, 2),
        "Embed": ramp(5, torch.float16, 0.125, -0.3),
        "a.bias": ramp(3, torch.bfloat16, -2.5, 1.0),
        "ids": ramp(4, torch.int64, 123456789, -5),
        "positions": ramp(6, torch.int32, 70000, -3).reshape(3, 2),
        "small": ramp(4, torch.int8, 60, -120),
        "bytes": ramp(5, torch.uint8, 60, 3),
        "mask": torch.tensor([True, False, True]),
        "scalar": torch.tensor(3.5, dtype=torch.float32),
        "empty": torch.zeros(0, 4, dtype=torch.float32),
    }


def tensors_with_converted_dtypes():
    tensors = tensors_of_tensor_dtypes()
    tensors.update({
        "double": ramp(3, torch.float64, 0.1, 0.2),
        "short": ramp(3, torch.int16, -1000, 30000),
        "ushort": ramp(3, torch.uint16, 20000, 5000),
        "uint": ramp(2, torch.uint32, 2000000000, 300000000),
        "ulong": ramp(2, torch.uint64, 1000, 7),
    })
    return tensors


def describe(tensors):
    out = {}
    for name, t in tensors.items():
        if t.dtype == torch.bool or not t.dtype.is_floating_point:
            values = [int(v) for v in t.flatten().tolist()]
        else:
            values = t.to(torch.float64).flatten().tolist()
        out[name] = {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape), "values": values}
    return out


def write_configs():
    """transformers' own serialisation of Emu3 configs: its defaults, and a tiny custom one."""
    from transformers import Emu3Config
    from transformers.models.emu3.image_processing_emu3 import Emu3ImageProcessor

    vocabulary = {"<image>": 7, "<|visual token 000000|>": 10, "<|visual token 000001|>": 11}
    defaults = Emu3Config(vocabulary_map=vocabulary)
    (OUT / "hf_default_config.json").write_text(defaults.to_json_string(use_diff=False))
    tiny = Emu3Config(
        vocabulary_map=vocabulary,
        text_config=dict(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                         rms_norm_eps=1e-6, rope_theta=10000.0, attention_bias=True, pad_token_id=0,
                         bos_token_id=1, eos_token_id=2),
        vq_config=dict(codebook_size=16, embed_dim=4, latent_channels=4, base_channels=32,
                       channel_multiplier=[1, 2], num_res_blocks=1, attn_resolutions=[], hidden_size=64,
                       temporal_downsample_factor=2),
    )
    (OUT / "hf_tiny_config.json").write_text(tiny.to_json_string(use_diff=True))
    processor = Emu3ImageProcessor(min_pixels=64 * 64, max_pixels=128 * 128, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    (OUT / "hf_preprocessor_config.json").write_text(processor.to_json_string())


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    write_configs()
    for stem, tensors in [("python_writer", tensors_of_tensor_dtypes()),
                          ("python_dtypes", tensors_with_converted_dtypes())]:
        save_file(tensors, str(OUT / f"{stem}.safetensors"), metadata={"format": "pt"})
        (OUT / f"{stem}.json").write_text(json.dumps(describe(tensors), indent=1, sort_keys=True) + "\n")
        print("wrote", OUT / f"{stem}.safetensors")


if __name__ == "__main__":
    main()
