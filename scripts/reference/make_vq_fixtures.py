"""Golden fixtures for swift-emu's vision tokenizer (Tests/Fixtures/vq/).

Writes, with fixed seeds, two tiny random-weight transformers `Emu3VQVAE` models saved with
`save_pretrained` (float16 weights whose values are exactly representable, so the float32 reference
and the Swift float32 code see the same numbers), and for each:
  expected.safetensors: input frames (normalized pixel values), the pre-quantization latents, the
  codes from `encode` (image and 8-frame video), the margin between the best and second-best
  codebook distance at each position, random codes and the pixels `decode` makes of them.
Plus resize.safetensors / resize.json: random images resized by Emu3ImageProcessor (PIL bicubic),
and smart_resize cases.

Also baai_names.json per config: transformers name -> the name BAAI's original
`Emu3VisionVQModel` (baaivision/Emu3, emu3/tokenizer/modeling_emu3visionvq.py) gives the same
weight. The mapping is checked by loading the renamed weights into BAAI's model with strict=True
and, for the single-head config, by comparing its decoded pixels with transformers'. Point
BAAI_EMU3 at a folder holding that file and configuration_emu3visionvq.py (package `emu3tok`)
to run the check; without it the check is skipped and the names are still written.

Run: python scripts/reference/make_vq_fixtures.py  (transformers 4.57.x, torch CPU, Pillow)
"""
import json
import os
import sys

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import Emu3VQVAE, Emu3VQVAEConfig
from transformers.models.emu3.image_processing_emu3 import Emu3ImageProcessor, smart_resize

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "vq")
torch.set_num_threads(1)

# Small enough to commit (< 1 MB of float16 weights each). transformers' attention width is
# hidden_size, so attention levels must be as wide as the middle block.
CONFIGS = {
    # Two levels (spatial factor 2), widths 64 then 32: ResNet shortcuts both ways; no attention
    # levels (the middle block always attends).
    "widths": dict(codebook_size=256, embed_dim=4, latent_channels=4, base_channels=32,
                   channel_multiplier=[2, 1], num_res_blocks=1, attn_resolutions=[],
                   hidden_size=32, num_attention_heads=1, temporal_downsample_factor=4),
    # Three levels (spatial factor 4), attention at levels 1 and 2, two heads.
    "attention": dict(codebook_size=256, embed_dim=4, latent_channels=4, base_channels=32,
                      channel_multiplier=[1, 1, 1], num_res_blocks=1, attn_resolutions=[1, 2],
                      hidden_size=32, num_attention_heads=2, temporal_downsample_factor=4),
}


def randomize(model, generator):
    """Random weights on every parameter and buffer, rounded to float16 values."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "embedding" in name:
                continue
            if name.endswith("weight") and p.ndim > 1:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=generator) / fan_in ** 0.5)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=generator))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))
            p.copy_(p.half().float())
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_((0.1 * torch.randn(b.shape, generator=generator)).half().float())
            elif name.endswith("running_var"):
                b.copy_((0.5 + torch.rand(b.shape, generator=generator)).half().float())


def latents(model, frames):
    """Pre-quantization latents [1, E, T', h, w] of frames [T, 3, H, W] (T a multiple of 4)."""
    h = model.encoder(frames.unsqueeze(0))  # b t c h w
    return model.quant_conv(h.permute(0, 2, 1, 3, 4))


def distances(latent, codebook):
    """The quantizer's distances, computed as transformers does: z^2 + e^2 - 2 z.e."""
    z = latent.permute(0, 2, 3, 4, 1).reshape(-1, latent.shape[1])
    return (z ** 2).sum(1, keepdim=True) + (codebook ** 2).sum(1) - 2 * z @ codebook.T


def margins(latent, codebook):
    d = distances(latent, codebook).sort(dim=1).values
    return (d[:, 1] - d[:, 0]).reshape(latent.shape[2:])


def baai_name(name):
    """The BAAI key of a transformers Emu3VQVAE weight name."""
    parts, out, i = name.split("."), [], 0
    renames = {"middle_block": ["mid"], "attn_norm": ["attn_1", "norm"], "q_proj": ["q"], "k_proj": ["k"],
               "v_proj": ["v"], "out_proj": ["proj_out"]}
    while i < len(parts):
        p = parts[i]
        if p in ("down_block", "up_block"):
            i += 1  # down_block.down.N -> down.N, up_block.up.N -> up.N
            out.append(parts[i])
        elif p == "attn_norms":
            out += ["attn", parts[i + 1], "norm"]
            i += 1
        else:
            out += renames.get(p, [p])
        i += 1
    return ".".join(out)


def check_baai(model, cfg, codes):
    """Loads the renamed weights into BAAI's model (strict) and, with one head, compares decodes."""
    folder = os.environ.get("BAAI_EMU3")
    if not folder:
        print("BAAI_EMU3 not set: BAAI mapping check skipped")
        return
    sys.path.insert(0, folder)
    from emu3tok.configuration_emu3visionvq import Emu3VisionVQConfig
    from emu3tok.modeling_emu3visionvq import Emu3VisionVQModel
    baai = Emu3VisionVQModel(Emu3VisionVQConfig(
        codebook_size=cfg["codebook_size"], embed_dim=cfg["embed_dim"], z_channels=cfg["latent_channels"],
        ch=cfg["base_channels"], ch_mult=cfg["channel_multiplier"], num_res_blocks=cfg["num_res_blocks"],
        attn_resolutions=cfg["attn_resolutions"], temporal_downsample_factor=cfg["temporal_downsample_factor"])).eval()
    state = {}
    for k, v in model.state_dict().items():
        target = baai.state_dict()[baai_name(k)]
        state[baai_name(k)] = v.reshape(target.shape)
    baai.load_state_dict(state, strict=True)
    if cfg["num_attention_heads"] == 1:
        with torch.no_grad():
            a, b = baai.decode(codes), model.decode(codes)
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5), (a - b).abs().max()
        print("BAAI decode matches transformers:", (a - b).abs().max().item())


def make_model(name, cfg, seed):
    generator = torch.Generator().manual_seed(seed)
    model = Emu3VQVAE(Emu3VQVAEConfig(**cfg)).eval()
    randomize(model, generator)
    return model, generator


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(1234)
    image_u8 = rng.integers(0, 256, size=(40, 56, 3), dtype=np.uint8)
    # A smooth-ish image with noise: more like a photo than white noise.
    yy, xx = np.mgrid[0:40, 0:56]
    base = np.stack([128 + 100 * np.sin(xx / 7.0), 128 + 90 * np.cos(yy / 5.0), (xx * 4 + yy * 3) % 256], -1)
    image_u8 = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    video_u8 = np.clip(rng.normal(128, 60, size=(8, 16, 24, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(image_u8).save(os.path.join(OUT, "image_40x56.png"))

    processor = Emu3ImageProcessor(min_pixels=16 * 16, max_pixels=128 * 128, spatial_factor=8,
                                   image_mean=[0.5] * 3, image_std=[0.5] * 3)
    pixel_values = torch.from_numpy(processor.preprocess(Image.fromarray(image_u8), return_tensors="np")["pixel_values"][0])
    assert pixel_values.shape == (3, 40, 56), pixel_values.shape
    video = torch.from_numpy(np.stack([
        processor.preprocess(Image.fromarray(f), return_tensors="np")["pixel_values"][0] for f in video_u8]))
    assert video.shape == (8, 3, 16, 24), video.shape

    save_file({"image_u8": torch.from_numpy(image_u8.copy()), "image_pixel_values": pixel_values.float().contiguous(), "video_pixel_values": video.float().contiguous()},
              os.path.join(OUT, "inputs.safetensors"))
    summary = {}
    for index, (name, cfg) in enumerate(CONFIGS.items()):
        model, generator = make_model(name, cfg, seed=100 + index)
        with torch.no_grad():
            image_latent = latents(model, pixel_values.unsqueeze(0).repeat(4, 1, 1, 1))
            video_latent = latents(model, video)
            # Centre and spread the codebook on the latents, then keep the draw whose nearest-code
            # choices win by the largest margin (random weights otherwise make near-ties).
            z = torch.cat([image_latent.flatten(2), video_latent.flatten(2)], 2)[0]
            mean, std = z.mean(1), z.std(1)
            cb = mean + std * torch.randn(cfg["codebook_size"], cfg["embed_dim"], generator=generator)
            points = z.T
            best = (-1.0, cb.half().float())
            for step in range(2000):
                d = (points ** 2).sum(1, keepdim=True) + (cb ** 2).sum(1) - 2 * points @ cb.T
                top = d.topk(2, dim=1, largest=False)
                gap = top.values[:, 1] - top.values[:, 0]
                worst = gap.argmin().item()
                rounded = cb.half().float()
                m = min(margins(image_latent, rounded).min().item(), margins(video_latent, rounded).min().item())
                if m > best[0]:
                    best = (m, rounded)
                if m > 2e-3 * float((std ** 2).sum()):
                    break
                # Pull the winning code of the closest call towards its latent.
                k = top.indices[worst, 0]
                cb[k] += 0.3 * (points[worst] - cb[k])
            model.quantize.embedding.weight.copy_(best[1])
            codes_image = model.encode(pixel_values.unsqueeze(0), image_sizes=torch.tensor([[40, 56]]))[0]
            codes_video = model.quantize(video_latent.permute(0, 2, 1, 3, 4))[0]
            # Cross-check the video path against the model's own encode on a 5-D input.
            assert torch.equal(model.quantize(model.quant_conv(model.encoder(video.unsqueeze(0)).permute(0, 2, 1, 3, 4)).permute(0, 2, 1, 3, 4))[0], codes_video)
            f = 2 ** (len(cfg["channel_multiplier"]) - 1)
            decode_image_codes = torch.randint(0, cfg["codebook_size"], (1, 40 // f, 56 // f), generator=generator)
            decode_video_codes = torch.randint(0, cfg["codebook_size"], (1, 2, 16 // f, 24 // f), generator=generator)
            decoded_image = model.decode(decode_image_codes)[0]
            decoded_video = model.decode(decode_video_codes)[0]
        check_baai(model, cfg, decode_image_codes)
        folder = os.path.join(OUT, name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "baai_names.json"), "w") as fp:
            json.dump({k: baai_name(k) for k in model.state_dict()}, fp, indent=0, sort_keys=True)
        decoded_u8 = np.asarray(processor.postprocess(decoded_image.unsqueeze(0).numpy())["pixel_values"][0])
        model.half().save_pretrained(folder)
        tensors = {
            "image_latents": image_latent.float().contiguous(),
            "image_codes": codes_image.to(torch.int32).contiguous(),
            "image_margins": margins(image_latent, best[1]).float().contiguous(),
            "video_latents": video_latent.float().contiguous(),
            "video_codes": codes_video.to(torch.int32).contiguous(),
            "video_margins": margins(video_latent, best[1]).float().contiguous(),
            "decode_image_codes": decode_image_codes[0].to(torch.int32).contiguous(),
            "decoded_image": decoded_image.float().contiguous(),
            "decoded_image_u8": torch.from_numpy(decoded_u8.copy()).contiguous(),
            "decode_video_codes": decode_video_codes[0].to(torch.int32).contiguous(),
            "decoded_video": decoded_video.float().contiguous(),
        }
        save_file(tensors, os.path.join(folder, "expected.safetensors"))
        summary[name] = {"min_margin": best[0], "typical_distance": float((std ** 2).sum()) * 2, "image_codes": list(codes_image.shape),
                         "video_codes": list(codes_video.shape)}
    with open(os.path.join(OUT, "preprocessor_config.json"), "w") as fp:
        json.dump({"image_processor_type": "Emu3ImageProcessor", "min_pixels": 16 * 16, "max_pixels": 128 * 128,
                   "spatial_factor": 8, "image_mean": [0.5] * 3, "image_std": [0.5] * 3,
                   "rescale_factor": 1 / 255, "do_resize": True, "do_rescale": True, "do_normalize": True,
                   "do_convert_rgb": True, "resample": 3}, fp, indent=1)

    # Resize parity: PIL bicubic through the processor's smart resize, up and down.
    resize = {}
    cases = []
    for i, (h, w, lo, hi) in enumerate([(23, 37, 32 * 32, 64 * 64), (75, 97, 16 * 16, 40 * 40),
                                        (50, 30, 16 * 16, 48 * 48), (64, 64, 8 * 8, 24 * 24)]):
        if i % 2 == 0:
            img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        else:
            yy, xx = np.mgrid[0:h, 0:w]
            img = np.clip(np.stack([128 + 120 * np.sin(xx / 3.0 + yy / 5.0), 2 * xx + yy, 255 - 3 * yy], -1)
                          + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8)
        th, tw = smart_resize(h, w, factor=8, min_pixels=lo, max_pixels=hi)
        out = np.asarray(Image.fromarray(img).resize((tw, th), resample=Image.BICUBIC))
        resize[f"input_{i}"] = torch.from_numpy(img.copy())
        resize[f"output_{i}"] = torch.from_numpy(out.copy())
        cases.append({"index": i, "height": h, "width": w, "min_pixels": lo, "max_pixels": hi,
                      "resized_height": th, "resized_width": tw})
    save_file(resize, os.path.join(OUT, "resize.safetensors"))
    smart = []
    for (h, w, fac, lo, hi) in [(20, 20, 8, 1, 10 ** 6), (12, 36, 8, 1, 10 ** 6), (28, 44, 8, 1, 10 ** 6),
                                (720, 1280, 8, 512 * 512, 1024 * 1024), (3000, 2000, 8, 512 * 512, 1024 * 1024),
                                (100, 50, 8, 512 * 512, 1024 * 1024), (41, 57, 4, 256, 128 * 128),
                                (1000, 7, 8, 64, 4096)]:
        rh, rw = smart_resize(h, w, factor=fac, min_pixels=lo, max_pixels=hi)
        smart.append({"height": h, "width": w, "factor": fac, "min_pixels": lo, "max_pixels": hi,
                      "resized_height": rh, "resized_width": rw})
    with open(os.path.join(OUT, "resize.json"), "w") as fp:
        json.dump({"resize": cases, "smart_resize": smart, "models": summary}, fp, indent=1)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    sys.exit(main())
