"""Checks that a ShapesWorld model folder (`emu train --recipe shapes`, VQ-VAE codec) is an Emu3
checkpoint that transformers loads, that its vision tokenizer codes pictures as emu does, that its
tokenizer.json loads in HF tokenizers and splits the world's sentences as emu does, and that the
trained decoder scores and answers as emu does.

Loads the folder with `Emu3ForConditionalGeneration.from_pretrained` (no unexpected weights; only
BatchNorm's `num_batches_tracked` counters may be missing), draws a few 64x64 pictures, codes them
with transformers' VQ-VAE and with `emu vq encode --json`, and compares the codes: equal, or a
near-tie (the two entries' squared distances to the latent differ by less than float32 rounding of
|x|^2 + |e|^2 - 2 x.e, taken as 1e-6 of the magnitudes, about 8 float32 epsilons).

Then the decoder, on sequences built from those codes: for each picture, emu's greedy answer to a
few questions (`emu chat --greedy --json`) must be transformers' greedy answer from the same prompt,
and emu's log-probabilities of the prompt and answer (`emu score`) must match transformers' within
1e-5 of max(1, |logit|); the same for a text-to-image prompt and the picture emu draws for it
(`emu generate --cfg 1 --greedy`), where each code must also be transformers' likeliest code unless
the two likeliest are within that tolerance.

usage: python check_shapes_model.py MODEL_DIR [--emu .build/release/emu] [--pictures 8]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image, ImageDraw
from tokenizers import Tokenizer
from transformers import AutoTokenizer, Emu3ForConditionalGeneration

QUESTIONS = ["describe the image", "how many objects are there?", "what colour is the circle?"]
CAPTIONS = ["a small red circle", "a large blue square left of a small green triangle"]
TOLERANCE = 1e-5
HF_TOKENIZER_KEYS = {"version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "model",
                     "post_processor", "decoder"}


def pictures(count, folder):
    rng = np.random.default_rng(0)
    colours = [(220, 40, 40), (40, 80, 220), (40, 200, 60), (230, 220, 40), (40, 210, 220), (150, 60, 200)]
    paths = []
    for i in range(count):
        image = Image.new("RGB", (64, 64), "black")
        draw = ImageDraw.Draw(image)
        for _ in range(rng.integers(1, 4)):
            x, y, size = int(rng.integers(2, 50)), int(rng.integers(2, 50)), int(rng.choice([7, 13]))
            colour = colours[int(rng.integers(len(colours)))]
            (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x, y, x + size, y + size], fill=colour)
        path = os.path.join(folder, f"picture_{i}.png")
        image.save(path)
        paths.append(path)
    return paths


def words(text):
    """The world's word split (emu's ShapesVocabulary.words): lower case, `. , ? * :` on their own."""
    out = []
    for part in text.lower().split():
        current = ""
        for character in part:
            if character in ".,?*:":
                out += [current] if current else []
                out.append(character)
                current = ""
            else:
                current += character
        out += [current] if current else []
    return out


def check_tokenizer(folder, vocab):
    """tokenizer.json loads in HF tokenizers (and AutoTokenizer) and splits as emu's vocabulary does."""
    path = os.path.join(folder, "tokenizer.json")
    try:
        tokenizer = Tokenizer.from_file(path)
        auto = AutoTokenizer.from_pretrained(folder)
    except Exception as error:  # the Rust parser refuses unknown keys, naming only a column
        with open(path, encoding="utf-8") as handle:
            unknown = sorted(set(json.load(handle)) - HF_TOKENIZER_KEYS)
        print(f"HF tokenizers cannot load {path}: {error}" + (f" (keys it does not know: {unknown})" if unknown else ""))
        return False
    ok = True
    for text in QUESTIONS + CAPTIONS + ["put the green triangle left of the red square", "8*8"]:
        expected = [vocab[w] for w in words(text)]
        got, got_auto = tokenizer.encode(text, add_special_tokens=False).ids, auto.encode(text, add_special_tokens=False)
        if got != expected or got_auto != expected:
            print(f"tokenizer: {text!r} -> {got} (AutoTokenizer {got_auto}), vocabulary_map gives {expected}")
            ok = False
    print(f"tokenizer.json loads in HF tokenizers {'and splits as emu does' if ok else 'but splits differently'}")
    return ok


def emu_json(emu, *arguments):
    return json.loads(subprocess.run([emu, *arguments, "--json"], check=True, capture_output=True, text=True).stdout)


def compare_scores(model, emu, folder, ids, label, visual=None, generated_from=None):
    """emu's log p(ids[t+1] | ids[..t]) against transformers'; with `visual` (the visual token ids)
    and `generated_from`, also that each generated code is transformers' likeliest code."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(ids, handle)
    try:
        theirs = torch.tensor(emu_json(emu, "score", "--model", folder, "--ids", handle.name)["logprobs"])
    finally:
        os.unlink(handle.name)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0]
    ours = torch.log_softmax(logits, dim=-1)[:-1].gather(1, torch.tensor(ids[1:])[:, None])[:, 0]
    difference = (ours - theirs).abs().max().item()
    tolerance = TOLERANCE * max(1.0, logits.abs().max().item())
    ok = difference <= tolerance
    choices = ""
    if visual is not None:
        wrong = 0
        visual_set = set(visual)
        for t in range(generated_from, len(ids)):
            if ids[t] not in visual_set:
                continue
            row = logits[t - 1, visual]
            best = row.max()
            wrong += int(best - logits[t - 1, ids[t]] > tolerance)
        choices = f", codes not transformers' likeliest: {wrong}"
        ok = ok and wrong == 0
    print(f"{label}: {len(ids)} tokens, max |log p difference| {difference:.2e} (tolerance {tolerance:.1e}){choices}")
    return ok


def greedy(model, prompt, stop, limit):
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(limit):
            token = int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
            ids.append(token)
            if token == stop:
                break
    return ids[len(prompt):]


def with_blank_cells(grid, path, blank_codes):
    """The codes the model reads for a picture: a model trained with blank cells
    (config.json `shapes_codec.blank_codes`) reads a cell whose 16x16 pixels around it are all
    background as its blank code, not as what the VQ-VAE codes it (emu's VisionTokenizerCodec)."""
    if not blank_codes:
        return grid
    pixels = np.asarray(Image.open(path).convert("RGB"))
    rows, columns = grid.shape
    cell = pixels.shape[0] // rows
    grid = grid.copy()
    for r in range(rows):
        for c in range(columns):
            y, x = max(0, r * cell - cell // 2), max(0, c * cell - cell // 2)
            if not pixels[y:r * cell - cell // 2 + 2 * cell, x:c * cell - cell // 2 + 2 * cell].any():
                grid[r, c] = blank_codes[r * columns + c]
    return grid


def check_decoder(model, emu, folder, vocab, paths, codes):
    """Greedy answers and log-probabilities of emu against transformers on the folder's decoder."""
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as handle:
        blank_codes = json.load(handle).get("shapes_codec", {}).get("blank_codes")
    codes = [with_blank_cells(grid, path, blank_codes) for path, grid in zip(paths, codes)]
    special = lambda name: vocab[name]  # noqa: E731
    visual = [vocab[f"<|visual token {k:06d}|>"] for k in range(sum(1 for name in vocab if name.startswith("<|visual token ")))]
    text = lambda t: [vocab[w] for w in words(t)]  # noqa: E731
    bos, eos = special("<|extra_203|>"), special("<|extra_204|>")
    header = [special("<|image start|>")] + text(f"{codes[0].shape[0]}*{codes[0].shape[1]}") + [special("<|image token|>")]
    ok = True
    for path, grid in zip(paths[:3], codes):
        frame = [i for row in grid for i in [visual[c] for c in row] + [special("<|extra_200|>")]] + [special("<|extra_201|>")]
        picture = header + frame + [special("<|image end|>")]
        for question in QUESTIONS:
            prompt = [bos] + picture + text(question) + [special("<|assistant|>")]
            theirs = emu_json(emu, "chat", "--model", folder, "--image", path, "--prompt", question, "--greedy")["ids"]
            ours = greedy(model, prompt, eos, len(theirs))
            if ours != theirs:
                print(f"{os.path.basename(path)} {question!r}: emu answers {theirs}, transformers {ours}")
                ok = False
            ok = compare_scores(model, emu, folder, prompt + theirs, f"{os.path.basename(path)}, {question!r}") and ok
    for caption in CAPTIONS:
        prompt = [bos] + text(caption) + header
        drawn = emu_json(emu, "generate", "--model", folder, "--prompt", caption, "--cfg", "1", "--greedy",
                         "--out", os.path.join(os.path.dirname(paths[0]), "drawn.png"))["ids"]
        ok = compare_scores(model, emu, folder, prompt + drawn, f"drawing {caption!r}", visual, len(prompt)) and ok
    print(f"decoder: greedy answers {'equal' if ok else 'DIFFER'} and log-probabilities {'within tolerance' if ok else 'checked above'}")
    return ok


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--emu", default=".build/release/emu")
    parser.add_argument("--pictures", type=int, default=8)
    args = parser.parse_args()

    model, info = Emu3ForConditionalGeneration.from_pretrained(args.model, dtype=torch.float32, output_loading_info=True)
    model.eval()
    missing = [k for k in info["missing_keys"] if not k.endswith("num_batches_tracked")]
    print(f"transformers loaded {args.model}: {sum(p.numel() for p in model.parameters())} parameters; "
          f"unexpected {info['unexpected_keys']}, missing (besides num_batches_tracked) {missing}")
    ok = not info["unexpected_keys"] and not missing

    with tempfile.TemporaryDirectory() as folder:
        paths = pictures(args.pictures, folder)
        emu = json.loads(subprocess.run([args.emu, "vq", "encode", "--model", args.model, "--json", *paths],
                                        check=True, capture_output=True, text=True).stdout)
        emu = emu if isinstance(emu, list) else [emu]
        latents = []
        model.model.vqmodel.quantize.register_forward_hook(lambda module, inputs, output: latents.append(inputs[0]))
        equal = ties = total = 0
        codebook = model.model.vqmodel.quantize.embedding.weight.detach()
        for path, result in zip(paths, emu):
            pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
            x = torch.tensor(((pixels - 0.5) / 0.5).transpose(2, 0, 1)[None], dtype=torch.float32)
            with torch.no_grad():
                codes = model.model.vqmodel.encode(x, torch.tensor([[64, 64]]))[0].flatten()
            theirs = torch.tensor(result["codes"]).flatten()
            # quantize's input [1, T, C, H, W] -> one latent per code, in raster order.
            latent = latents[-1][0, 0].permute(1, 2, 0).reshape(-1, codebook.shape[1])
            for i in range(codes.numel()):
                if codes[i] == theirs[i]:
                    equal += 1
                    continue
                d = ((codebook[[int(codes[i]), int(theirs[i])]] - latent[i]) ** 2).sum(dim=1)
                # Float32 computes |x|^2 + |e|^2 - 2 x.e with cancellation: a tie is closer than
                # its rounding, 1e-6 of the magnitudes involved (about 8 float32 epsilons).
                scale = float((latent[i] ** 2).sum() + (codebook[[int(codes[i]), int(theirs[i])]] ** 2).sum())
                ties += int(abs(float(d[0] - d[1])) <= 1e-6 * scale)
            total += codes.numel()
        print(f"codes equal: {equal}/{total}; differing by a near-tie: {ties}")
        ok = ok and equal + ties == total
        vocab = model.config.vocabulary_map
        tokenizer_ok = check_tokenizer(args.model, vocab)
        grids = [np.asarray(result["codes"])[0] for result in emu]
        decoder_ok = check_decoder(model, args.emu, args.model, vocab, paths, grids)
        ok = ok and tokenizer_ok and decoder_ok
    print("OK" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
