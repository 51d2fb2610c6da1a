/// PNG encoding: 8-bit RGB or RGBA, non-interlaced, each row filtered with whichever of the five
/// filters gives the smallest sum of absolute residuals (the usual heuristic), then deflated.
extension PNG {
    /// Encodes an RGB image.
    public static func encode(_ image: RGBImage, effort: Int = 48) -> [UInt8] {
        encode(width: image.width, height: image.height, channels: 3, samples: image.pixels, effort: effort)
    }

    /// Encodes interleaved 8-bit samples: `channels` 1 (grey), 3 (RGB) or 4 (RGBA).
    public static func encode(width: Int, height: Int, channels: Int, samples: [UInt8], effort: Int = 48) -> [UInt8] {
        precondition([1, 3, 4].contains(channels) && samples.count == width * height * channels,
                     "PNG.encode: \(samples.count) samples for \(width)x\(height)x\(channels)")
        let rowBytes = width * channels
        var filtered = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        var candidate = [UInt8](repeating: 0, count: rowBytes)
        samples.withUnsafeBufferPointer { src in
            for y in 0..<height {
                let row = y * rowBytes, prior = row - rowBytes
                var bestScore = Int.max
                for type in 0..<5 {
                    var score = 0
                    for i in 0..<rowBytes {
                        let a = i >= channels ? Int(src[row + i - channels]) : 0
                        let b = y > 0 ? Int(src[prior + i]) : 0
                        let c = (i >= channels && y > 0) ? Int(src[prior + i - channels]) : 0
                        let predictor: Int
                        switch type {
                        case 0: predictor = 0
                        case 1: predictor = a
                        case 2: predictor = b
                        case 3: predictor = (a + b) >> 1
                        default: predictor = paeth(a, b, c)
                        }
                        let residual = UInt8(truncatingIfNeeded: Int(src[row + i]) - predictor)
                        candidate[i] = residual
                        score += residual < 128 ? Int(residual) : 256 - Int(residual)
                    }
                    if score < bestScore {
                        bestScore = score
                        let out = y * (rowBytes + 1)
                        filtered[out] = UInt8(type)
                        for i in 0..<rowBytes { filtered[out + 1 + i] = candidate[i] }
                    }
                }
            }
        }
        var png = signature
        var ihdr = [UInt8]()
        appendUInt32(&ihdr, UInt32(width)); appendUInt32(&ihdr, UInt32(height))
        ihdr += [8, channels == 1 ? 0 : channels == 3 ? 2 : 6, 0, 0, 0]
        appendChunk(&png, "IHDR", ihdr)
        appendChunk(&png, "IDAT", Deflate.zlibCompress(filtered, effort: effort))
        appendChunk(&png, "IEND", [])
        return png
    }

    static func appendUInt32(_ out: inout [UInt8], _ v: UInt32) {
        out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    static func appendChunk(_ out: inout [UInt8], _ type: String, _ body: [UInt8]) {
        appendUInt32(&out, UInt32(body.count))
        let typed = Array(type.utf8) + body
        out += typed
        appendUInt32(&out, Checksum.crc32(typed))
    }
}
