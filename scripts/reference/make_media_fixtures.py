#!/usr/bin/env python3
"""Makes the image/video fixtures for Tests/EmuIOTests (PNG, JPEG, GIF) and, for each, the pixels
Pillow gives for `Image.open(f).convert("RGB")` (what Emu3's image processor sees), as raw .rgb
files (width*height*3 bytes per frame, frames concatenated). manifest.json lists them.

PNG variants Pillow cannot write (2/4-bit grey, 16-bit colour, Adam7, every filter type) are written
by the small encoder below; the expected pixels still come from Pillow decoding them.
Run: python scripts/reference/make_media_fixtures.py  (writes Tests/Fixtures/media/)
"""
import io, json, os, struct, zlib
import numpy as np
from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "media")
rng = np.random.default_rng(1234)
manifest = []


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_rows(raw_rows, bpp, first_filter):
    """Filters each row with type (first_filter + row) % 5, so every filter type is exercised."""
    out, prev = bytearray(), bytes(len(raw_rows[0])) if raw_rows else b""
    for i, row in enumerate(raw_rows):
        ft = (first_filter + i) % 5
        f = bytearray(len(row))
        for x in range(len(row)):
            a = row[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ft]
            f[x] = (row[x] - pred) & 0xFF
        out.append(ft)
        out += f
        prev = row
    return bytes(out)


def pack_row(samples, depth):
    """samples: 1-D ints for one row (channels interleaved)."""
    if depth == 8:
        return bytes(int(s) for s in samples)
    if depth == 16:
        return b"".join(struct.pack(">H", int(s)) for s in samples)
    per = 8 // depth
    out = bytearray((len(samples) + per - 1) // per)
    for i, s in enumerate(samples):
        out[i // per] |= int(s) << (8 - depth * (i % per + 1))
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def write_png(path, arr, color_type, depth, palette=None, trns=None, interlace=False):
    """arr: HxWxC integer samples already in [0, 2**depth)."""
    h, w, c = arr.shape
    bpp = max(1, c * depth // 8)
    data = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for pi, (x0, y0, dx, dy) in enumerate(passes):
        sub = arr[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        rows = [pack_row(sub[y].reshape(-1), depth) for y in range(sub.shape[0])]
        data += filter_rows(rows, bpp, pi)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    if palette is not None:
        png += chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        png += chunk(b"tRNS", trns)
    z = zlib.compress(data, 9)
    png += chunk(b"IDAT", z[: len(z) // 2]) + chunk(b"IDAT", z[len(z) // 2:])  # split IDAT on purpose
    png += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def expect(name, kind, tolerance=0.0, note=""):
    """Decodes OUT/name with Pillow, stores every frame's convert("RGB") as name.rgb."""
    path = os.path.join(OUT, name)
    im = Image.open(path)
    frames = []
    n = getattr(im, "n_frames", 1)
    for i in range(n):
        im.seek(i)
        frames.append(np.asarray(im.convert("RGB"), dtype=np.uint8))
    with open(path + ".rgb", "wb") as f:
        for fr in frames:
            f.write(fr.tobytes())
    manifest.append({"file": name, "expected": name + ".rgb", "kind": kind, "width": im.size[0],
                     "height": im.size[1], "frames": n, "mode": im.mode, "tolerance": tolerance, "note": note})


def photo(w, h):
    """A photo-like test picture: gradients, a disc, edges, mild noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / w * 6.0) * np.cos(y / h * 3.0)
    g = 255 * x / max(w - 1, 1)
    b = 255 * y / max(h - 1, 1)
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(w, h) * 0.3) ** 2
    r[disc], g[disc], b[disc] = 240, 40, 30
    img = np.stack([r, g, b], -1) + rng.normal(0, 6, (h, w, 3))
    img[:, : w // 5] = [20, 200, 90]
    return np.clip(img, 0, 255).astype(np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    W, H = 13, 11

    # --- PNG: every colour type and bit depth ---
    for depth in (1, 2, 4, 8, 16):
        a = rng.integers(0, 2 ** depth, (H, W, 1))
        a[0, 0, 0], a[0, 1, 0] = 0, 2 ** depth - 1
        if depth == 16:  # around the 8-bit boundary, where conversions differ
            a[1, :8, 0] = [255, 256, 257, 511, 32767, 65280, 65535, 200]
        write_png(f"{OUT}/png_grey{depth}.png", a, 0, depth)
        expect(f"png_grey{depth}.png", "png")
    for depth in (8, 16):
        a = rng.integers(0, 2 ** depth, (H, W, 3))
        write_png(f"{OUT}/png_rgb{depth}.png", a, 2, depth)
        expect(f"png_rgb{depth}.png", "png")
        a = rng.integers(0, 2 ** depth, (H, W, 2))
        write_png(f"{OUT}/png_greyalpha{depth}.png", a, 4, depth)
        expect(f"png_greyalpha{depth}.png", "png")
        a = rng.integers(0, 2 ** depth, (H, W, 4))
        write_png(f"{OUT}/png_rgba{depth}.png", a, 6, depth)
        expect(f"png_rgba{depth}.png", "png")
    for depth in (1, 2, 4, 8):
        n = 2 ** depth if depth < 8 else 200
        pal = rng.integers(0, 256, (n, 3))
        a = rng.integers(0, n, (H, W, 1))
        trns = bytes(rng.integers(0, 256, min(n, 5)).astype(np.uint8)) if depth in (2, 8) else None
        write_png(f"{OUT}/png_palette{depth}.png", a, 3, depth, palette=pal, trns=trns)
        expect(f"png_palette{depth}.png", "png", note="tRNS" if trns else "")
    # tRNS on grey and RGB (ignored by convert("RGB"))
    a = rng.integers(0, 256, (H, W, 1))
    write_png(f"{OUT}/png_grey8_trns.png", a, 0, 8, trns=struct.pack(">H", int(a[2, 2, 0])))
    expect("png_grey8_trns.png", "png")
    a = rng.integers(0, 256, (H, W, 3))
    write_png(f"{OUT}/png_rgb8_trns.png", a, 2, 8, trns=struct.pack(">HHH", *[int(v) for v in a[3, 3]]))
    expect("png_rgb8_trns.png", "png")
    # Adam7 interlace, including sizes where some passes are empty
    for (name, ct, depth, c, w, h) in [("rgb8", 2, 8, 3, W, H), ("grey1", 0, 1, 1, W, H), ("palette4", 3, 4, 1, W, H),
                                         ("rgba16", 6, 16, 4, W, H), ("rgb8_3x2", 2, 8, 3, 3, 2), ("grey8_1x1", 0, 8, 1, 1, 1)]:
        a = rng.integers(0, 2 ** depth if ct != 3 else 16, (h, w, c))
        pal = rng.integers(0, 256, (16, 3)) if ct == 3 else None
        write_png(f"{OUT}/png_interlaced_{name}.png", a, ct, depth, palette=pal, interlace=True)
        expect(f"png_interlaced_{name}.png", "png")
    # A PNG written by Pillow itself (its own zlib stream)
    Image.fromarray(photo(40, 30)).save(f"{OUT}/png_pil_rgb.png")
    expect("png_pil_rgb.png", "png")

    # --- JPEG: baseline/progressive, qualities, subsampling, odd sizes, restarts, grey ---
    for (w, h) in [(37, 23), (64, 48)]:
        img = Image.fromarray(photo(w, h))
        for q in (50, 95):
            for sub, sname in [(0, "444"), (1, "422"), (2, "420")]:
                for prog in (False, True):
                    name = f"jpeg_{w}x{h}_q{q}_{sname}_{'prog' if prog else 'base'}.jpg"
                    img.save(f"{OUT}/{name}", quality=q, subsampling=sub, progressive=prog)
                    expect(name, "jpeg", tolerance=1.0)
    img = Image.fromarray(photo(45, 33))
    img.save(f"{OUT}/jpeg_45x33_restart.jpg", quality=80, subsampling=2, restart_marker_blocks=3)
    expect("jpeg_45x33_restart.jpg", "jpeg", tolerance=1.0)
    img.save(f"{OUT}/jpeg_45x33_restart_prog.jpg", quality=80, subsampling=2, progressive=True, restart_marker_rows=1)
    expect("jpeg_45x33_restart_prog.jpg", "jpeg", tolerance=1.0)
    img.convert("L").save(f"{OUT}/jpeg_45x33_grey.jpg", quality=85)
    expect("jpeg_45x33_grey.jpg", "jpeg", tolerance=1.0)
    img.convert("L").save(f"{OUT}/jpeg_45x33_grey_prog.jpg", quality=85, progressive=True)
    expect("jpeg_45x33_grey_prog.jpg", "jpeg", tolerance=1.0)

    # --- GIF: animated, Pillow's own encoder (crops unchanged areas into sub-rectangles) ---
    base = photo(24, 18)
    frames = []
    for i in range(4):
        f = base.copy()
        f[4 + i * 2: 10 + i * 2, 3 + i * 3: 9 + i * 3] = [255, 255, 0]
        frames.append(Image.fromarray(f).quantize(colors=64 - i * 8))
    frames[0].save(f"{OUT}/gif_anim.gif", save_all=True, append_images=frames[1:], duration=[50, 80, 80, 120], loop=0)
    expect("gif_anim.gif", "gif")
    # A still GIF with a transparent index and an interlaced one
    p = Image.fromarray(photo(17, 13)).quantize(colors=16)
    p.save(f"{OUT}/gif_transparent.gif", transparency=3)
    expect("gif_transparent.gif", "gif")
    p.save(f"{OUT}/gif_interlaced.gif", interlace=True)
    expect("gif_interlaced.gif", "gif")

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"{len(manifest)} fixtures, {total} bytes")


if __name__ == "__main__":
    main()
