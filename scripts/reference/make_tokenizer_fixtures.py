#!/usr/bin/env python3
"""Writes the text-tokenizer parity fixtures into Tests/Fixtures/tokenizer/.

Deterministic (fixed seeds). Needs: tokenizers, tiktoken, regex.

Files written:
  corpus.json          {"documents": [str, ...]}  varied text, >= 100k characters in all
  tokenizer.json       byte-level BPE trained here (GPT-2 regex), plus Emu3's 211 specials and the
                       `<image>` placeholder at `<|extra_0|>`'s id. The 32768 visual tokens are NOT
                       stored (4 MB of JSON); tests append them from emu3_vision_tokens.txt exactly
                       as `full_tokenizer_json` below does (special, normalized=false, ids after
                       `<|image end|>`).
  emu3.tiktoken        the same ranks in BAAI's layout: base64(token bytes) rank
  emu3_vision_tokens.txt  BAAI's layout: `<|image token|>`, `<|image start|>`, `<|image end|>`,
                       then the 32768 visual tokens, one per line
  expected.json        per document: ids from HF `tokenizers` (full tokenizer.json, and the Qwen-style
                       Split+ByteLevel variant), ids from `tiktoken` with the Qwen pattern after NFC
                       (as BAAI's Emu3Tokenizer does), pre-tokenizer piece lengths (in code points)
                       from Python `regex` for the GPT-2 and Qwen patterns, decodes with
                       skip_special_tokens, and single-id decodes of the base vocabulary.
"""
import base64
import json
import os
import random
import unicodedata

import regex
import tiktoken
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "Fixtures", "tokenizer")

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
QWEN_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
VISUAL_TOKENS = 32768
VOCAB_SIZE = 7000

# ---------------------------------------------------------------------------------------------
# Corpus

ENGLISH = ("the quick brown fox jumps over lazy dog model token image video robot action paper "
           "transformer attention layer weight sample guidance prompt render pixel colour circle "
           "square triangle red green blue yellow large small left right above below between "
           "learning generation understanding language vision discrete next prediction").split()
CONTRACTIONS = ["don't", "DON'T", "I'm", "I'M", "we'll", "WE'LL", "she's", "SHE'S", "they've",
                "THEY'VE", "you're", "YOU'RE", "he'd", "HE'D", "it'S", "can'T", "'ſ", "O'Reilly"]
CHINESE = "我们提出了一种新的多模态模型它只通过预测下一个标记来学习图像视频和文本的生成与理解这是一个测试句子"
JAPANESE = ["これはテストです", "東京タワー", "ひらがなとカタカナ", "ｶﾀｶﾅ半角", "日本語の文章を書きます。"]
EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🧑🏿‍💻", "❤️", "🇯🇵", "🤖", "✨", "👩‍❤️‍💋‍👨"]
ODD = ["\u00a0", "\u3000", "\u2028", "\x0b", "\x0c", "\x85", "\u200b", "\x1c", "e\u0301", "A\u030a",
       "\ufeff", "ﬁ", "Ⅻ", "½", "²", "٣", "Ω", "ǅ", "İ"]
CODE = [
    "def encode(self, text: str) -> list[int]:\n    return [self.vocab[t] for t in text.split()]\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i] * b[i];\n}\r\n",
    "let ids = try tokenizer.encode(\"hello\")  // 42\n",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;\n",
    "if x==1:\n        y = {'a': [1, 2, 3], \"b\": None}\n",
    "#include <stdio.h>\nint main(void){printf(\"%d\\n\", 12345);}\n",
]


def specials():
    return ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [f"<|extra_{i}|>" for i in range(205)]


def vision_lines():
    return ["<|image token|>", "<|image start|>", "<|image end|>"] + [
        f"<|visual token {k:06d}|>" for k in range(VISUAL_TOKENS)]


def make_document(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(8, 30)):
        kind = rng.random()
        if kind < 0.35:
            words = [rng.choice(ENGLISH) for _ in range(rng.randint(1, 8))]
            if rng.random() < 0.3:
                words[0] = words[0].capitalize()
            if rng.random() < 0.1:
                words = [w.upper() for w in words]
            parts.append(" ".join(words) + rng.choice([".", ",", "!", "?", "", " ", ";", "..."]))
        elif kind < 0.45:
            parts.append(rng.choice(CONTRACTIONS))
        elif kind < 0.55:
            parts.append("".join(rng.choice(CHINESE) for _ in range(rng.randint(2, 12))) +
                         rng.choice(["。", "，", "", "！"]))
        elif kind < 0.6:
            parts.append(rng.choice(JAPANESE))
        elif kind < 0.66:
            parts.append(rng.choice(EMOJI) * rng.randint(1, 3))
        elif kind < 0.72:
            parts.append(rng.choice(CODE))
        elif kind < 0.78:
            parts.append(str(rng.randint(0, 10 ** rng.randint(1, 12))) + rng.choice(["", "%", ".5", "px", " km"]))
        elif kind < 0.84:
            parts.append(rng.choice([" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n ", "\r\n\r\n",
                                     "    \n", "\n   ", " \t \n\t", "          "]))
        elif kind < 0.88:
            parts.append(rng.choice(ODD))
        elif kind < 0.93:
            parts.append(rng.choice(specials()[:6] + ["<|extra_200|>", "<|extra_201|>", "<|extra_203|>",
                                                      "<|extra_204|>", "<|image start|>", "<|image end|>",
                                                      "<|image token|>", "<image>", "<|extra_9", "<|endoftext"]))
        else:
            # a row of visual tokens, as in an image sequence, sometimes malformed
            row = "".join(f"<|visual token {rng.randrange(VISUAL_TOKENS):06d}|>" for _ in range(rng.randint(1, 6)))
            if rng.random() < 0.2:
                row += "<|visual token 0123|>"  # not a token: must go through BPE
            parts.append(row + rng.choice(["<|extra_200|>", "", " "]))
        parts.append(rng.choice(["", " ", " ", "", "\n"]))
    return "".join(parts)


def make_corpus():
    rng = random.Random(1234)
    docs = []
    total = 0
    while total < 110_000:
        d = make_document(rng)
        docs.append(d)
        total += len(d)
    # hand-made edge cases (each its own line so a failure names it)
    docs += ["", " ", "\n", "   ", "a", "  a", "a  ", "a\n\n  b", "\r\n\r\n", "x\t\t\ty", "'s'S'ſ",
             "<|visual token 000000|><|visual token 32767|>", "<|visual token 032767|>",
             "<|visual token000001|>", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
             "1234567890" * 5, "!!!???...\n\n", " !!\n", "e\u0301e\u0301", "\u00a0\u00a0x", "x \u3000 y"]
    return docs


# ---------------------------------------------------------------------------------------------
# Tokenizers


def train(docs):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    # Train on a different corpus than the test documents (same generator, other seed).
    rng = random.Random(99)
    tok.train_from_iterator([make_document(rng) for _ in range(3000)], trainer=trainer)
    return tok


def with_specials(tokenizer_json: dict, base: int) -> dict:
    """Emu3's layout: specials follow the ranks; `<image>` takes `<|extra_0|>`'s id (as in -hf)."""
    added = []
    for i, name in enumerate(specials() + vision_lines()[:3]):
        content = "<image>" if name == "<|extra_0|>" else name
        added.append({"id": base + i, "content": content, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True})
    tokenizer_json["added_tokens"] = added
    return tokenizer_json


def full_tokenizer_json(tokenizer_json: dict) -> dict:
    """Appends the visual tokens; the Swift tests do the same from emu3_vision_tokens.txt."""
    j = json.loads(json.dumps(tokenizer_json))
    next_id = j["added_tokens"][-1]["id"] + 1
    for k, name in enumerate(vision_lines()[3:]):
        j["added_tokens"].append({"id": next_id + k, "content": name, "single_word": False, "lstrip": False,
                                  "rstrip": False, "normalized": False, "special": True})
    return j


def qwen_variant(tokenizer_json: dict) -> dict:
    """Qwen2-style tokenizer.json: NFC, Split(Qwen regex, Isolated) then ByteLevel(use_regex=false)."""
    j = json.loads(json.dumps(tokenizer_json))
    j["normalizer"] = {"type": "NFC"}
    j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": QWEN_PATTERN}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]}
    # Pair form of the merges, as newer `tokenizers` writes them.
    j["model"]["merges"] = [m.split(" ") if isinstance(m, str) else m for m in j["model"]["merges"]]
    return j


def byte_decoder():
    # GPT-2's printable-byte alphabet, inverted: model character -> byte.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def main():
    os.makedirs(OUT, exist_ok=True)
    docs = make_corpus()
    print("documents", len(docs), "characters", sum(map(len, docs)))

    trained = train(docs)
    base_json = json.loads(trained.to_str())
    vocab = base_json["model"]["vocab"]
    base = len(vocab)
    assert sorted(vocab.values()) == list(range(base))
    base_json = with_specials(base_json, base)
    # Keep the merges in the legacy string form in the stored file; the variant uses pairs.
    base_json["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in base_json["model"]["merges"]]

    hf = Tokenizer.from_str(json.dumps(full_tokenizer_json(base_json)))
    hf_qwen = Tokenizer.from_str(json.dumps(full_tokenizer_json(qwen_variant(base_json))))
    first_visual = base + 211
    assert hf.token_to_id("<|visual token 000000|>") == first_visual
    assert hf.token_to_id("<image>") == base + 3
    assert hf.get_vocab_size() == first_visual + VISUAL_TOKENS

    # tiktoken, BAAI layout: ranks = ids; specials start right after the ranks.
    bd = byte_decoder()
    ranks = {bytes(bd[c] for c in token): rank for token, rank in vocab.items()}
    special_ids = {t: base + i for i, t in enumerate(specials() + vision_lines())}
    enc = tiktoken.Encoding("emu3-fixture", pat_str=QWEN_PATTERN, mergeable_ranks=ranks, special_tokens=special_ids)

    expected = {"hf": [], "hf_qwen": [], "tiktoken": [], "gpt2_pieces": [], "qwen_pieces": [],
                "hf_skip_special": {}, "tiktoken_skip_special": {}}
    for i, d in enumerate(docs):
        ids = hf.encode(d, add_special_tokens=False).ids
        assert hf.decode(ids, skip_special_tokens=False) == d, f"HF round trip failed on document {i}"
        expected["hf"].append(ids)
        qids = hf_qwen.encode(d, add_special_tokens=False).ids
        expected["hf_qwen"].append(qids)
        nfc = unicodedata.normalize("NFC", d)
        tids = enc.encode(nfc, allowed_special="all")
        assert enc.decode(tids) == nfc
        expected["tiktoken"].append(tids)
        expected["gpt2_pieces"].append([len(p) for p in regex.findall(GPT2_PATTERN, d)])
        expected["qwen_pieces"].append([len(p) for p in regex.findall(QWEN_PATTERN, d)])
        if any(t >= base for t in ids):
            expected["hf_skip_special"][str(i)] = hf.decode(ids, skip_special_tokens=True)
        if any(t >= base for t in tids):
            # BAAI's skip_special_tokens keeps ids below `<|endoftext|>`.
            expected["tiktoken_skip_special"][str(i)] = enc.decode([t for t in tids if t < base])
    expected["hf_single_id_decodes"] = [hf.decode([t]) for t in range(base)]
    expected["base_vocabulary_size"] = base

    with open(os.path.join(OUT, "corpus.json"), "w", encoding="utf-8") as f:
        json.dump({"documents": docs}, f, ensure_ascii=False, indent=0)
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(base_json, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(OUT, "emu3.tiktoken"), "w", encoding="utf-8") as f:
        for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
            f.write(base64.b64encode(token).decode("ascii") + " " + str(rank) + "\n")
    with open(os.path.join(OUT, "emu3_vision_tokens.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vision_lines()) + "\n")
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        f.write("{\n")
        keys = list(expected)
        for n, k in enumerate(keys):
            f.write(json.dumps(k) + ": " + json.dumps(expected[k], ensure_ascii=False, separators=(",", ":")))
            f.write(",\n" if n + 1 < len(keys) else "\n")
        f.write("}\n")


if __name__ == "__main__":
    main()
