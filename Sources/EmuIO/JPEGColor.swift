/// libjpeg's chroma upsampling ("fancy" triangle filters for 2x1, 2x2 and 1x2; replication
/// otherwise) and its fixed-point YCbCr->RGB conversion.
enum JPEGUpsampler {
    /// Upsamples a component plane (`width` x `height` valid samples, row `stride`) by integral
    /// factors and crops to the output size.
    static func upsample(_ plane: [UInt8], stride: Int, width: Int, height: Int, factorX: Int, factorY: Int,
                         outWidth: Int, outHeight: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outWidth * outHeight)
        plane.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                // Rows of upsampled width before cropping (2 * width for the fancy filters).
                var row = [UInt8](repeating: 0, count: width * factorX + 2)
                for y in 0..<outHeight {
                    let iy = y / factorY
                    if factorX == 2 && factorY == 2 && width > 2 {
                        // h2v2: vertical 3:1 mix with the nearer neighbouring row, then horizontal 3:1.
                        let neighbour = y % 2 == 0 ? max(iy - 1, 0) : min(iy + 1, height - 1)
                        let r0 = iy * stride, r1 = neighbour * stride
                        @inline(__always) func colsum(_ x: Int) -> Int { Int(src[r0 + x]) * 3 + Int(src[r1 + x]) }
                        var this = colsum(0), next = colsum(1), last = this
                        row[0] = UInt8((this * 4 + 8) >> 4)
                        row[1] = UInt8((this * 3 + next + 7) >> 4)
                        last = this; this = next
                        for x in 1..<(width - 1) {
                            next = colsum(x + 1)
                            row[2 * x] = UInt8((this * 3 + last + 8) >> 4)
                            row[2 * x + 1] = UInt8((this * 3 + next + 7) >> 4)
                            last = this; this = next
                        }
                        row[2 * width - 2] = UInt8((this * 3 + last + 8) >> 4)
                        row[2 * width - 1] = UInt8((this * 4 + 7) >> 4)
                    } else if factorX == 2 && factorY == 1 && width > 2 {
                        let r = iy * stride
                        @inline(__always) func s(_ x: Int) -> Int { Int(src[r + x]) }
                        row[0] = UInt8(s(0))
                        row[1] = UInt8((s(0) * 3 + s(1) + 2) >> 2)
                        for x in 1..<(width - 1) {
                            row[2 * x] = UInt8((s(x) * 3 + s(x - 1) + 1) >> 2)
                            row[2 * x + 1] = UInt8((s(x) * 3 + s(x + 1) + 2) >> 2)
                        }
                        row[2 * width - 2] = UInt8((s(width - 1) * 3 + s(width - 2) + 1) >> 2)
                        row[2 * width - 1] = UInt8(s(width - 1))
                    } else if factorX == 1 && factorY == 2 {
                        let upper = y % 2 == 0
                        let neighbour = upper ? max(iy - 1, 0) : min(iy + 1, height - 1)
                        let bias = upper ? 1 : 2
                        for x in 0..<width {
                            row[x] = UInt8((Int(src[iy * stride + x]) * 3 + Int(src[neighbour * stride + x]) + bias) >> 2)
                        }
                    } else {
                        for x in 0..<(width * factorX) { row[x] = src[iy * stride + x / factorX] }
                    }
                    for x in 0..<outWidth { dst[y * outWidth + x] = row[x] }
                }
            }
        }
        return out
    }
}

enum JPEGColor {
    static let scaleBits = 16
    static let half = 1 << (scaleBits - 1)
    @inline(__always) static func fix(_ x: Double) -> Int { Int(x * Double(1 << scaleBits) + 0.5) }
    static let crToR: [Int] = (0..<256).map { (fix(1.40200) * ($0 - 128) + half) >> scaleBits }
    static let cbToB: [Int] = (0..<256).map { (fix(1.77200) * ($0 - 128) + half) >> scaleBits }
    static let crToG: [Int] = (0..<256).map { -fix(0.71414) * ($0 - 128) }
    static let cbToG: [Int] = (0..<256).map { -fix(0.34414) * ($0 - 128) + half }

    static func convertYCbCr(_ y: [UInt8], _ cb: [UInt8], _ cr: [UInt8], into pixels: inout [UInt8]) {
        crToR.withUnsafeBufferPointer { crR in cbToB.withUnsafeBufferPointer { cbB in
            crToG.withUnsafeBufferPointer { crG in cbToG.withUnsafeBufferPointer { cbG in
                pixels.withUnsafeMutableBufferPointer { out in
                    @inline(__always) func clamp(_ v: Int) -> UInt8 { UInt8(min(max(v, 0), 255)) }
                    for i in 0..<y.count {
                        let l = Int(y[i]), b = Int(cb[i]), r = Int(cr[i])
                        out[3 * i] = clamp(l + crR[r])
                        out[3 * i + 1] = clamp(l + ((cbG[b] + crG[r]) >> scaleBits))
                        out[3 * i + 2] = clamp(l + cbB[b])
                    }
                }
            }}
        }}
    }
}
