/// Reduces an RGB image to at most `maxColors` palette entries with median cut (boxes in RGB
/// space split at the pixel-weighted median of their widest channel). Images that already have
/// few enough colours keep them exactly.
enum ColorQuantizer {
    struct Result {
        var palette: [UInt8]   // 3 bytes per entry
        var indices: [UInt8]   // one per pixel
    }

    static func quantize(_ image: RGBImage, maxColors: Int = 256) -> Result {
        let n = image.width * image.height
        var histogram = [UInt32: Int]()
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<n { histogram[UInt32(p[3 * i]) << 16 | UInt32(p[3 * i + 1]) << 8 | UInt32(p[3 * i + 2]), default: 0] += 1 }
        }
        var colors = histogram.map { (color: $0.key, count: $0.value) }.sorted { $0.color < $1.color }
        var palette = [UInt8]()
        if colors.count <= maxColors {
            for c in colors { palette += [UInt8(c.color >> 16), UInt8((c.color >> 8) & 0xFF), UInt8(c.color & 0xFF)] }
        } else {
            palette = medianCut(&colors, maxColors: maxColors)
        }
        // Map each distinct colour to its nearest palette entry once.
        let entries = palette.count / 3
        var lookup = [UInt32: UInt8](minimumCapacity: colors.count)
        for c in colors {
            let r = Int(c.color >> 16), g = Int((c.color >> 8) & 0xFF), b = Int(c.color & 0xFF)
            var best = 0, bestDistance = Int.max
            for e in 0..<entries {
                let dr = r - Int(palette[3 * e]), dg = g - Int(palette[3 * e + 1]), db = b - Int(palette[3 * e + 2])
                let d = dr * dr + dg * dg + db * db
                if d < bestDistance { bestDistance = d; best = e; if d == 0 { break } }
            }
            lookup[c.color] = UInt8(best)
        }
        var indices = [UInt8](repeating: 0, count: n)
        image.pixels.withUnsafeBufferPointer { p in
            for i in 0..<n { indices[i] = lookup[UInt32(p[3 * i]) << 16 | UInt32(p[3 * i + 1]) << 8 | UInt32(p[3 * i + 2])]! }
        }
        return Result(palette: palette, indices: indices)
    }

    /// Splits the colour list into `maxColors` boxes; returns each box's weighted mean colour.
    static func medianCut(_ colors: inout [(color: UInt32, count: Int)], maxColors: Int) -> [UInt8] {
        @inline(__always) func channel(_ c: UInt32, _ k: Int) -> Int { Int((c >> UInt32(16 - 8 * k)) & 0xFF) }
        var boxes: [Range<Int>] = [0..<colors.count]
        /// (widest channel, its extent times the box's pixel count) for choosing what to split.
        func measure(_ box: Range<Int>) -> (channel: Int, score: Int) {
            var lo = [255, 255, 255], hi = [0, 0, 0], pixels = 0
            for i in box {
                pixels += colors[i].count
                for k in 0..<3 { let v = channel(colors[i].color, k); lo[k] = min(lo[k], v); hi[k] = max(hi[k], v) }
            }
            let extents = (0..<3).map { hi[$0] - lo[$0] }
            let widest = extents.firstIndex(of: extents.max()!)!
            return (widest, box.count > 1 ? extents[widest] * pixels : -1)
        }
        var measures = [measure(boxes[0])]
        while boxes.count < maxColors {
            guard let pick = measures.indices.max(by: { measures[$0].score < measures[$1].score }), measures[pick].score >= 0 else { break }
            let box = boxes[pick], k = measures[pick].channel
            colors[box].sort { channel($0.color, k) < channel($1.color, k) }
            let total = colors[box].reduce(0) { $0 + $1.count }
            var running = 0, cut = box.lowerBound + 1
            for i in box {
                running += colors[i].count
                if running * 2 >= total { cut = i + 1; break }
            }
            cut = min(max(cut, box.lowerBound + 1), box.upperBound - 1)
            boxes[pick] = box.lowerBound..<cut
            measures[pick] = measure(boxes[pick])
            boxes.append(cut..<box.upperBound)
            measures.append(measure(boxes.last!))
        }
        var palette = [UInt8]()
        for box in boxes {
            var sums = [0, 0, 0], weight = 0
            for i in box {
                weight += colors[i].count
                for k in 0..<3 { sums[k] += channel(colors[i].color, k) * colors[i].count }
            }
            for k in 0..<3 { palette.append(UInt8((sums[k] + weight / 2) / max(weight, 1))) }
        }
        return palette
    }
}
