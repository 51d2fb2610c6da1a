"""Builds the tiny Emu3 text tokenizer: a byte-level BPE trained on generated text, followed by
Emu3's special tokens in the same order as the real vocabulary, then one visual token per code.

Layout (N = number of BPE tokens):
    N + 0              <|endoftext|>   (PAD)
    N + 1, N + 2       <|im_start|>, <|im_end|>
    N + 3 ... N + 207  <|extra_0|> ... <|extra_204|>, with <|extra_0|> renamed to <image> as in the -hf
                       conversion (EOL = extra_200, EOF = extra_201, BOS = extra_203, EOS = extra_204)
    N + 208            <|image token|> (IMG)
    N + 209            <|image start|> (BOI)
    N + 210            <|image end|>   (EOI)
    N + 211 + k        <|visual token 00000k|> (6 digits, with a space, like the real -hf tokenizer)
"""

import json
import random

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

EXTRA_COUNT = 205

WORDS = (
    "the a an of to in and is was for on with as by at from that this it be are were has have had not "
    "but or if then when while image picture photo video frame token model text vision code grid row "
    "column pixel color red green blue yellow black white dark light small large tiny huge big little "
    "cat dog bird fish horse tree flower river mountain city street house car train boat sky cloud sun "
    "moon star night day morning evening rain snow wind storm sea beach forest field garden road bridge "
    "portrait landscape painting drawing sketch film grained masterpiece best quality high resolution "
    "detailed sharp blurry lowres bad anatomy hands error missing fingers extra digit fewer digits "
    "cropped worst low normal jpeg artifacts signature watermark username describe please what do you "
    "see there here they them their our we us he she his her my your its who which where why how "
    "assistant user system helpful answer question learn train predict next generate understand "
    "multimodal sequence transformer attention layer head hidden state cache vector matrix tensor "
    "running walking flying swimming sitting standing holding looking smiling playing reading writing "
    "young old new ancient modern beautiful happy sad quiet loud fast slow warm cold soft hard bright"
).split()

UNICODE_WORDS = ["café", "naïve", "über", "señor", "Straße", "你好", "世界", "图像", "日本語", "😀", "🐱", "→", "×"]

CODE_TEMPLATES = (
    "def {a}({b}, {c}):\n    return {b} * {c} + {n}\n",
    "for {b} in range({n}):\n    {a}.append({b} ** 2)\n",
    "let {a} = {b}.map {{ $0 + {n} }}\n",
    "func {a}(_ {b}: Int) -> Int {{ {b} &* {n} }}\n",
    "if ({b} < {n}) {{ {a}[{b}] = {c}; }}\n",
    "{a} = [{n}, {m}, {n}*{m}]  # {b} {c}\n",
    "struct {A} {{ var {b}: Float = {n}.{m} }}\n",
    "print(f\"{{{a}}}: {{{b}:.3f}}\")\n",
)


def training_corpus(seed: int) -> list[str]:
    """English-like sentences, code and a little non-ASCII text, all from a seeded generator."""
    rng = random.Random(seed)
    lines = []
    for _ in range(6000):
        length = rng.randint(4, 16)
        words = [rng.choice(WORDS) for _ in range(length)]
        if rng.random() < 0.1:
            words.insert(rng.randrange(len(words)), rng.choice(UNICODE_WORDS))
        sentence = " ".join(words)
        sentence = sentence[0].upper() + sentence[1:] + rng.choice([".", ".", ",", "?", "!"])
        lines.append(sentence)
        if rng.random() < 0.3:
            lines.append(f"{rng.randint(1, 128)}*{rng.randint(1, 128)} {rng.randint(0, 99999)}")
    identifiers = ["x", "y", "i", "j", "value", "result", "items", "count", "index", "tokens", "logits",
                   "hidden", "weights", "grid", "rows", "cols"]
    for _ in range(2500):
        template = rng.choice(CODE_TEMPLATES)
        a, b, c = rng.sample(identifiers, 3)
        lines.append(template.format(a=a, b=b, c=c, A=a.capitalize(), n=rng.randint(0, 999), m=rng.randint(0, 99)))
    return lines


def special_token_names(codebook_size: int) -> list[str]:
    names = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    names += ["<image>" if i == 0 else f"<|extra_{i}|>" for i in range(EXTRA_COUNT)]
    names += ["<|image token|>", "<|image start|>", "<|image end|>"]
    names += [f"<|visual token {k:06d}|>" for k in range(codebook_size)]
    return names


def build_tokenizer_json(bpe_vocab_size: int, codebook_size: int, seed: int) -> dict:
    """Returns the tokenizer.json dictionary (byte-level BPE, GPT-2 regex, specials as added tokens)."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=bpe_vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_corpus(seed), trainer)
    trained = json.loads(tokenizer.to_str())
    return assemble_tokenizer_json(trained["model"]["vocab"], trained["model"]["merges"], codebook_size)


def filler_tokenizer_json(bpe_size: int, codebook_size: int) -> dict:
    """A tokenizer with the real id layout but no merges: the 256 byte symbols, then unreachable filler
    entries up to `bpe_size` (151,643 for the real Emu3), then the specials and visual tokens. Used for
    random big checkpoints, where only the ids and the layout matter."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: index for index, symbol in enumerate(alphabet)}
    for index in range(len(vocab), bpe_size):
        vocab[f"<filler_{index}>"] = index
    return assemble_tokenizer_json(vocab, [], codebook_size)


def assemble_tokenizer_json(vocab: dict, merges: list, codebook_size: int) -> dict:
    """Appends Emu3's specials and visual tokens to a byte-level BPE vocabulary (in the vocabulary and
    as added tokens, like the -hf conversion) and returns the tokenizer.json dictionary."""
    vocab = dict(vocab)
    base = len(vocab)
    assert sorted(vocab.values()) == list(range(base)), "BPE ids must be dense"

    added_tokens = []
    for offset, name in enumerate(special_token_names(codebook_size)):
        token_id = base + offset
        vocab[name] = token_id
        added_tokens.append({
            "id": token_id, "content": name, "single_word": False, "lstrip": False,
            "rstrip": False, "normalized": False, "special": True,
        })
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added_tokens,
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab, "merges": merges,
        },
    }
