"""Golden outputs of transformers' Emu3 on the tiny checkpoint, written to Tests/Fixtures/golden/."""

import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file
from transformers import DynamicCache, Emu3ForConditionalGeneration, Emu3Processor

import common
import tiny_model
from common import hub_name

# The brief requires every greedy step (and every nearest-code search) to win by more than 1e-3; we
# select inputs with five times that, so float32 differences of another implementation (~1e-5) are
# far from flipping a choice.
MARGIN_REQUIRED = 5e-3
# Squared-distance gap between the two nearest codes (latents have unit variance per channel).
CODE_MARGIN_REQUIRED = 5e-3
NEGATIVE_PROMPT = (
    "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, cropped, "
    "worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, username, blurry."
)
QUALITY_SUFFIX = " masterpiece, film grained, best quality."


class Reference:
    """The tiny checkpoint loaded back (bf16 widened to float32) with its processor."""

    def __init__(self, checkpoint: str, spatial_factor: int):
        self.model = Emu3ForConditionalGeneration.from_pretrained(
            checkpoint, dtype=torch.float32, attn_implementation="eager"
        ).eval()
        self.processor = Emu3Processor.from_pretrained(checkpoint)
        # Spec trap: Emu3Processor hard-codes downsample_ratio = 8; the tiny VQ's factor is 4.
        self.processor.downsample_ratio = spatial_factor
        self.tokenizer = self.processor.tokenizer
        self.vocab = self.model.config.vocabulary_map
        self.vocab_size = self.model.config.text_config.vocab_size

    def ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def token(self, name: str) -> int:
        return self.vocab[name]

    def visual(self, code: int) -> int:
        return self.vocab[f"<|visual token {code:06d}|>"]

    @torch.no_grad()
    def logits(self, ids: list[int]) -> torch.Tensor:
        return self.model(input_ids=torch.tensor([ids])).logits[0]


# ---------------------------------------------------------------------------------------------
# (b) transformer logits: prefill and KV-cache decode


def transformer_ids(ref: Reference) -> list[int]:
    ids = [ref.token("<|extra_203|>")] + ref.ids("A small red cat. ")
    ids += [ref.token("<|image start|>")] + ref.ids("2*3") + [ref.token("<|image token|>")]
    for row in range(2):
        ids += [ref.visual(7 + 31 * row + 5 * col) for col in range(3)] + [ref.token("<|extra_200|>")]
    ids += [ref.token("<|extra_201|>"), ref.token("<|image end|>")]
    ids += ref.ids(" The cat looks at the sky and sees a bird.") + [ref.token("<|extra_204|>")]
    return ids


def golden_transformer(ref: Reference, out: str) -> None:
    ids = transformer_ids(ref)
    prefill_length = 30
    with torch.no_grad():
        prefill = ref.logits(ids)
        cache = DynamicCache()
        first = ref.model(input_ids=torch.tensor([ids[:prefill_length]]), past_key_values=cache, use_cache=True)
        rows = [first.logits[0, -1]]
        for position in range(prefill_length, len(ids)):
            step = ref.model(input_ids=torch.tensor([[ids[position]]]), past_key_values=cache, use_cache=True)
            rows.append(step.logits[0, -1])
        decode = torch.stack(rows)
    difference = (decode - prefill[prefill_length - 1:]).abs().max().item()
    save_file({"input_ids": torch.tensor(ids, dtype=torch.int64), "prefill_logits": prefill.contiguous(),
               "decode_logits": decode.contiguous()}, os.path.join(out, "transformer.safetensors"))
    common.write_json(os.path.join(out, "transformer.json"), {
        "meta": common.meta("Emu3ForConditionalGeneration.forward (input_ids only)"),
        "input_ids": ids,
        "prefill_length": prefill_length,
        "tensors": {
            "input_ids": "int64 [S]",
            "prefill_logits": "float32 [S, vocab]: one forward over all S ids, logits at every position",
            "decode_logits": "float32 [S - prefill_length + 1, vocab]: row 0 = last position of a prefill of "
                             "ids[0..<prefill_length] into an empty DynamicCache; row k = logits after feeding "
                             "ids[prefill_length + k - 1] alone with the cache",
        },
        "max_abs_difference_decode_vs_prefill": difference,
        "vocab_size": ref.vocab_size,
    })


# ---------------------------------------------------------------------------------------------
# (e) score


def golden_score(ref: Reference, out: str) -> None:
    ids = [ref.token("<|extra_203|>")] + ref.ids("Please describe the picture: a dog running under the rain")
    ids += [ref.token("<|image start|>")] + ref.ids("1*2") + [ref.token("<|image token|>")]
    ids += [ref.visual(3), ref.visual(200), ref.token("<|extra_200|>"), ref.token("<|extra_201|>")]
    logits = ref.logits(ids)
    logprobs = torch.log_softmax(logits, dim=-1)
    values = [logprobs[t, ids[t + 1]].item() for t in range(len(ids) - 1)]
    common.write_json(os.path.join(out, "score.json"), {
        "meta": common.meta("Emu3ForConditionalGeneration.forward (input_ids only)"),
        "ids": ids,
        "logprobs": values,
        "logprobs_definition": "logprobs[t] = log_softmax(logits[t])[ids[t+1]] = log P(ids[t+1] | ids[0...t])",
        "last_logits": common.floats(logits[-1]),
    })


# ---------------------------------------------------------------------------------------------
# (c) text-to-image with CFG and the grid constraint


def grid_constraint(ref: Reference, height: int, width: int):
    """prefix_allowed_tokens_fn of transformers' Emu3 docs (our own code, same rule)."""
    visual_tokens = ref.model.vocabulary_mapping.image_tokens
    image_wrapper = ref.token("<|image token|>")
    eol, eof = ref.token("<|extra_200|>"), ref.token("<|extra_201|>")
    eoi, eos, pad = ref.token("<|image end|>"), ref.token("<|extra_204|>"), ref.token("<|endoftext|>")

    def allowed(batch_id, input_ids):
        position = torch.nonzero(input_ids == image_wrapper, as_tuple=True)[0][0]
        offset = input_ids.shape[0] - position
        end = (width + 1) * height
        if offset % (width + 1) == 0:
            return [eol]
        if offset == end + 1:
            return [eof]
        if offset == end + 2:
            return [eoi]
        if offset == end + 3:
            return [eos]
        if offset > end + 3:
            return [pad]
        return visual_tokens

    return allowed


def generate_image(ref: Reference, prompt: str, ratio: str, area: int, scale: float):
    inputs = ref.processor(text=[prompt], return_for_image_generation=True, ratio=ratio, image_area=area,
                           return_tensors="pt")
    negative = ref.processor(text=[NEGATIVE_PROMPT], return_for_image_generation=True, ratio=ratio,
                             image_area=area, return_tensors="pt")
    height, width = (int(v) for v in inputs.pop("image_sizes")[0])
    negative.pop("image_sizes")
    with torch.no_grad():
        result = ref.model.generate(
            input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
            max_new_tokens=height * (width + 1) + 3, do_sample=False, guidance_scale=scale,
            negative_prompt_ids=negative["input_ids"], negative_prompt_attention_mask=negative["attention_mask"],
            prefix_allowed_tokens_fn=grid_constraint(ref, height, width),
            return_dict_in_generate=True, output_scores=True,
        )
    prompt_ids = inputs["input_ids"][0].tolist()
    generated = result.sequences[0, len(prompt_ids):].tolist()
    margins = [common.top_two_margin(step[0]) for step in result.scores]
    return prompt_ids, negative["input_ids"][0].tolist(), generated, margins, (height, width)


def golden_generate_t2i(ref: Reference, out: str) -> None:
    ratio, area, scale = "3:2", 384, 3.0  # -> 4 rows x 6 columns with the factor-4 VQ
    subjects = ["a red cat sitting on a blue boat", "a dog running under the rain", "a portrait of young girl",
                "a green tree on a small mountain", "a white horse in a dark forest", "a yellow car on a bridge"]
    tried = []
    for subject in subjects:
        prompt = subject + QUALITY_SUFFIX
        prompt_ids, negative_ids, generated, margins, (height, width) = generate_image(ref, prompt, ratio, area, scale)
        finite = [m for m in margins if m != float("inf")]
        tried.append({"prompt": prompt, "min_margin": min(finite)})
        if min(finite) > MARGIN_REQUIRED:
            break
    else:
        raise RuntimeError(f"no prompt gives every step a margin > {MARGIN_REQUIRED}: {tried}")
    codes = [[ref.model.vocabulary_mapping.bpe2img[t] for t in generated[r * (width + 1):r * (width + 1) + width]]
             for r in range(height)]
    common.write_json(os.path.join(out, "generate_t2i.json"), {
        "meta": common.meta(
            "Emu3ForConditionalGeneration.generate (greedy) with UnbatchedClassifierFreeGuidanceLogitsProcessor "
            "(guidance_scale, negative_prompt_ids) then PrefixConstrainedLogitsProcessor (the grid rule of the "
            "transformers Emu3 docs); Emu3Processor(return_for_image_generation=True) with downsample_ratio "
            "patched to the VQ's spatial factor 4",
        ),
        "prompt": prompt,
        "negative_prompt": NEGATIVE_PROMPT,
        "negative_prompt_note": "the negative prompt goes through the processor with return_for_image_generation=True "
                                "as BAAI's official code does (BOS text BOI 'H*W' IMG); transformers' doc example "
                                "passes the bare negative text instead",
        "ratio": ratio,
        "image_area": area,
        "rows": height,
        "columns": width,
        "guidance_scale": scale,
        "cfg_formula": "scores = log_softmax(uncond) + s * (log_softmax(cond) - log_softmax(uncond)), both branches "
                       "with their own KV cache, the unconditional branch starting from negative_prompt_ids and "
                       "then fed the same generated tokens; disallowed tokens -> -inf; greedy argmax",
        "prompt_ids": prompt_ids,
        "negative_prompt_ids": negative_ids,
        "generated_ids": generated,
        "codes": codes,
        "step_margins": [m if m != float("inf") else None for m in margins],
        "min_margin": min(m for m in margins if m != float("inf")),
        "margin_definition": "top-1 minus top-2 of the CFG-combined, constrained log-probs; null where one token "
                             "is allowed",
        "prompts_tried": tried,
    })


# ---------------------------------------------------------------------------------------------
# (d) chat: image understanding


def chat_image(seed: int) -> Image.Image:
    """A smooth 32x24 RGB picture (gradients and a disc) plus a little seeded noise."""
    rng = np.random.default_rng(seed)
    height, width = 24, 32
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    red = 255 * x / (width - 1)
    green = 255 * y / (height - 1)
    blue = 255.0 * (((x - 20) ** 2 + (y - 10) ** 2) < 40)
    pixels = np.stack([red, green, blue], axis=-1) + rng.normal(0, 12, (height, width, 3))
    return Image.fromarray(np.clip(np.round(pixels), 0, 255).astype(np.uint8), mode="RGB")


def code_margin(vq, pixel_values: torch.Tensor) -> float:
    """Smallest gap between the nearest and the second-nearest squared codebook distance."""
    with torch.no_grad():
        latents = tiny_model.vq_latents(vq, pixel_values)
        flat = latents.permute(0, 1, 3, 4, 2).reshape(-1, latents.shape[2])
        distances = torch.cdist(flat, vq.quantize.embedding.weight) ** 2
        best = torch.topk(distances, 2, dim=1, largest=False).values
        return float((best[:, 1] - best[:, 0]).min())


def golden_chat(ref: Reference, out: str, max_new_tokens: int = 12) -> None:
    questions = ["Describe the image.", "What do you see in this picture?", "Please describe the image.",
                 "What color is the sky?", "Is there a cat here?", "Tell me about this photo."]
    vq = ref.model.model.vqmodel
    tried = []
    for attempt in range(24):
        question = questions[attempt % len(questions)]
        image = chat_image(common.SEED + attempt)
        path = os.path.join(out, "chat_image.png")
        image.save(path)
        image = Image.open(path)
        conversation = [
            {"role": "system", "content": [{"type": "text", "text": "You are a helpful assistant."}]},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]},
        ]
        prompt = ref.processor.apply_chat_template(conversation, add_generation_prompt=True)
        inputs = ref.processor(images=[image], text=[prompt], return_tensors="pt")
        pixel_values, image_sizes = inputs["pixel_values"], inputs["image_sizes"]
        clip = pixel_values.unsqueeze(1).repeat(1, vq.config.temporal_downsample_factor, 1, 1, 1)
        vq_margin = code_margin(vq, clip)
        with torch.no_grad():
            image_ids = ref.model.model.get_image_tokens(pixel_values, image_sizes)
        placeholder_ids = inputs["input_ids"][0].clone()
        mask = placeholder_ids == ref.token("<image>")
        full_ids = placeholder_ids.clone()
        full_ids[mask] = image_ids.to(full_ids.dtype)
        with torch.no_grad():
            # Cross-check: Emu3Model with pixel_values (merging VQ embeddings) equals the ids route.
            via_pixels = ref.model.model(input_ids=placeholder_ids[None], pixel_values=pixel_values,
                                         image_sizes=image_sizes).last_hidden_state
            via_ids = ref.model.model(input_ids=full_ids[None]).last_hidden_state
            agreement = (via_pixels - via_ids).abs().max().item()
            result = ref.model.generate(input_ids=full_ids[None], attention_mask=torch.ones_like(full_ids)[None],
                                        max_new_tokens=max_new_tokens, do_sample=False,
                                        return_dict_in_generate=True, output_scores=True)
        generated = result.sequences[0, len(full_ids):].tolist()
        margins = [common.top_two_margin(step[0]) for step in result.scores]
        tried.append({"question": question, "image_seed": common.SEED + attempt, "min_margin": min(margins), "vq_code_margin": vq_margin})
        if min(margins) > MARGIN_REQUIRED and vq_margin > CODE_MARGIN_REQUIRED:
            break
    else:
        raise RuntimeError(f"no chat attempt clears the margins: {tried}")
    assert agreement < 1e-5, agreement
    height, width = (int(v) for v in image_sizes[0])
    rows, columns = height // ref.processor.downsample_ratio, width // ref.processor.downsample_ratio
    codes = [[ref.model.vocabulary_mapping.bpe2img[t] for t in image_ids[r * (columns + 1):r * (columns + 1) + columns].tolist()]
             for r in range(rows)]
    common.write_json(os.path.join(out, "chat.json"), {
        "meta": common.meta(
            "Emu3Model.get_image_tokens (VQ encode) + Emu3ForConditionalGeneration.generate on input_ids (greedy)",
            trap="transformers 4.57.x Emu3ForConditionalGeneration.forward ignores pixel_values, so generate(pixel_values=...) "
                 "would embed the <image> placeholders themselves. We encode the image with the VQ "
                 "(Emu3Model.get_image_tokens), put its ids in place of the placeholders and generate from ids; "
                 "Emu3Model.forward with pixel_values gives the same hidden states (max abs difference recorded).",
        ),
        "image": "chat_image.png",
        "image_note": "goldens.chat_image(seed): 24x32 gradients + disc + noise; the PNG is the input",
        "image_size": [image.height, image.width],
        "resized_size": [height, width],
        "conversation": conversation,
        "prompt_text": prompt,
        "prompt_ids_with_placeholders": placeholder_ids.tolist(),
        "prompt_ids": full_ids.tolist(),
        "image_rows": rows,
        "image_columns": columns,
        "codes": codes,
        "generated_ids": generated,
        "generated_text": ref.tokenizer.decode(generated, skip_special_tokens=False),
        "max_new_tokens": max_new_tokens,
        "step_margins": margins,
        "min_margin": min(margins),
        "vq_code_margin": vq_margin,
        "margin_definition": "top-1 minus top-2 logit at each greedy step (full vocabulary); vq_code_margin: smallest "
                             "gap between the two nearest squared codebook distances over the image's latents",
        "emu3model_pixel_values_vs_ids_max_abs_difference": agreement,
        "attempts": tried,
    })


# ---------------------------------------------------------------------------------------------
# (f) gradients


def golden_grad_transformer(ref: Reference, out: str) -> None:
    generator = torch.Generator().manual_seed(common.SEED + 7)
    tokenizer_size = len(ref.tokenizer)
    ids = torch.randint(0, tokenizer_size, (2, 16), generator=generator)
    model = ref.model
    model.zero_grad(set_to_none=True)
    output = model(input_ids=ids, labels=ids)
    output.loss.backward()
    grads = {hub_name(name): p.grad.detach().clone().contiguous()
             for name, p in model.named_parameters() if not name.startswith("model.vqmodel")}
    # Independent recomputation of the loss definition.
    shifted = F.cross_entropy(output.logits[:, :-1].reshape(-1, output.logits.shape[-1]), ids[:, 1:].reshape(-1))
    assert abs(shifted.item() - output.loss.item()) < 1e-6
    save_file(grads, os.path.join(out, "grad_transformer.safetensors"))
    model.zero_grad(set_to_none=True)
    common.write_json(os.path.join(out, "grad_transformer.json"), {
        "meta": common.meta("Emu3ForConditionalGeneration.forward(input_ids, labels=input_ids).loss.backward(), eval mode"),
        "input_ids": ids.tolist(),
        "loss": output.loss.item(),
        "loss_definition": "mean over both sequences and positions t < 15 of -log_softmax(logits[b, t])[ids[b, t+1]] "
                           "(30 terms), no padding, no weights",
        "gradients": "grad_transformer.safetensors: float32 gradient of the loss w.r.t. every text-model parameter, "
                     "named as in model.safetensors (text_model.model.*, text_model.lm_head.weight)",
        "parameter_count": sum(g.numel() for g in grads.values()),
    })


def vq_forward(vq, pixels: torch.Tensor):
    """Hand-written training forward over transformers' modules (Emu3VQVAE has no such method)."""
    latents = tiny_model.vq_latents(vq, pixels)  # z: [B, T', C, h, w]
    codes = vq.quantize(latents)  # [B, T', h, w]
    quantized = vq.quantize.embedding(codes).permute(0, 1, 4, 2, 3)  # q: [B, T', C, h, w]
    straight = latents + (quantized - latents).detach()
    post = vq.post_quant_conv(straight.permute(0, 2, 1, 3, 4)).permute(0, 2, 1, 3, 4)
    batch, frames, _, height, width = straight.shape
    recon = vq.decoder(post, straight).reshape(
        batch, frames * vq.config.temporal_downsample_factor, vq.config.out_channels,
        height * vq.spatial_scale_factor, width * vq.spatial_scale_factor)
    loss = F.mse_loss(recon, pixels) + F.mse_loss(quantized, latents.detach()) \
        + 0.25 * F.mse_loss(latents, quantized.detach())
    return loss, latents, codes, recon


def golden_grad_vq(ref: Reference, out: str) -> None:
    vq = ref.model.model.vqmodel
    tried = []
    for attempt in range(8):
        generator = torch.Generator().manual_seed(common.SEED + 100 + attempt)
        pixels = torch.rand((1, 4, 3, 16, 16), generator=generator) * 2 - 1
        margin = code_margin(vq, pixels)
        tried.append(margin)
        if margin > CODE_MARGIN_REQUIRED:
            break
    else:
        raise RuntimeError(f"no VQ input clears the code margin: {tried}")
    vq.zero_grad(set_to_none=True)
    loss, latents, codes, recon = vq_forward(vq, pixels)
    loss.backward()
    grads = {hub_name("model.vqmodel." + name): p.grad.detach().clone().contiguous()
             for name, p in vq.named_parameters()}
    with torch.no_grad():
        decoded = vq.decode(codes)
    save_file(grads, os.path.join(out, "grad_vq.safetensors"))
    save_file({"pixel_values": pixels.contiguous(), "latents": latents.detach().contiguous(),
               "codes": codes.to(torch.int64).contiguous(), "reconstruction": recon.detach().contiguous(),
               "decoded": decoded.contiguous()}, os.path.join(out, "vq_forward.safetensors"))
    vq.zero_grad(set_to_none=True)
    common.write_json(os.path.join(out, "grad_vq.json"), {
        "meta": common.meta("hand-written forward over Emu3VQVAE's modules (goldens.vq_forward), eval mode: "
                            "BatchNorm3d uses its running statistics"),
        "input": "vq_forward.safetensors pixel_values: float32 [B=1, T=4, C=3, H=16, W=16], uniform in [-1, 1]",
        "forward": [
            "h = encoder(x)                              # [B, T/4, 4, H/4, W/4]",
            "z = quant_conv(h as [B, C, T', h, w]) back to [B, T', C, h, w]",
            "codes = argmin_k ||z - codebook[k]||^2      # per latent vector",
            "q = codebook[codes]                         # [B, T', C, h, w]",
            "zq = z + (q - z).detach()                   # straight-through",
            "recon = decoder(post_quant_conv(zq), zq)    # decoder's spatial norms conditioned on zq",
            "loss = mse(recon, x) + mse(q, z.detach()) + 0.25 * mse(z, q.detach())",
        ],
        "loss_note": "the middle term (codebook loss) gives the codebook a gradient; the last is the commitment loss; "
                     "mse = mean over all elements",
        "loss": loss.item(),
        "code_margin": margin,
        "codes": codes.tolist(),
        "tensors": {
            "vq_forward.safetensors": "pixel_values [1,4,3,16,16], latents z [1,1,4,4,4], codes int64 [1,1,4,4], "
                                      "reconstruction [1,4,3,16,16] (from zq), decoded = Emu3VQVAE.decode(codes) "
                                      "[1,4,3,16,16]",
            "grad_vq.safetensors": "float32 gradient of loss w.r.t. every VQ parameter, named as in model.safetensors "
                                   "(vqmodel.*)",
        },
    })


GOLDENS = {
    "transformer": golden_transformer,
    "score": golden_score,
    "generate_t2i": golden_generate_t2i,
    "chat": golden_chat,
    "grad_transformer": golden_grad_transformer,
    "grad_vq": golden_grad_vq,
}


def write_all(checkpoint: str, out: str, spatial_factor: int, only=None) -> None:
    common.make_deterministic()
    os.makedirs(out, exist_ok=True)
    ref = Reference(checkpoint, spatial_factor)
    for name, function in GOLDENS.items():
        if only is None or name in only:
            function(ref, out)
            print(f"wrote {name}")
