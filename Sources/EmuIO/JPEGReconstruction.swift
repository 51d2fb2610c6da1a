/// From coefficients to RGB pixels the way libjpeg(-turbo) does by default: dequantize, integer
/// "islow" inverse DCT (jidctint's arithmetic: 13-bit constants, 2 extra bits between passes),
/// fancy chroma upsampling, then fixed-point YCbCr->RGB.
extension JPEGDecoder {
    func makeImage() throws -> RGBImage {
        guard !components.isEmpty else { throw MediaError(.corrupt, "JPEG", "no frame header") }
        let planes = components.map { samplePlane($0) }
        var upsampled: [[UInt8]] = []
        for (i, c) in components.enumerated() {
            upsampled.append(JPEGUpsampler.upsample(planes[i], stride: c.blocksPerLine * 8, width: c.width, height: c.height,
                                                     factorX: maxH / c.h, factorY: maxV / c.v, outWidth: width, outHeight: height))
        }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        if components.count == 1 {
            let y = upsampled[0]
            for i in 0..<(width * height) { pixels[3 * i] = y[i]; pixels[3 * i + 1] = y[i]; pixels[3 * i + 2] = y[i] }
        } else if isRGB {
            for i in 0..<(width * height) {
                pixels[3 * i] = upsampled[0][i]; pixels[3 * i + 1] = upsampled[1][i]; pixels[3 * i + 2] = upsampled[2][i]
            }
        } else {
            JPEGColor.convertYCbCr(upsampled[0], upsampled[1], upsampled[2], into: &pixels)
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// libjpeg's rule for a 3-component image: JFIF means YCbCr; else Adobe's transform flag;
    /// else component ids 'R','G','B' mean RGB.
    var isRGB: Bool {
        if sawJFIF { return false }
        if let t = adobeTransform { return t == 0 }
        return components.count == 3 && components[0].id == 82 && components[1].id == 71 && components[2].id == 66
    }

    /// The component's samples for all its allocated blocks, row stride blocksPerLine * 8.
    func samplePlane(_ c: JPEGComponent) -> [UInt8] {
        let stride = c.blocksPerLine * 8
        var plane = [UInt8](repeating: 0, count: stride * c.blocksPerColumn * 8)
        let quant = quantTables[c.quantTable]
        // Only blocks that cover the visible component area need transforming.
        let usedColumns = min(c.blocksPerLine, (c.width + 7) / 8 + 1), usedRows = min(c.blocksPerColumn, (c.height + 7) / 8 + 1)
        c.coefficients.withUnsafeBufferPointer { coef in
            quant.withUnsafeBufferPointer { q in
                plane.withUnsafeMutableBufferPointer { out in
                    var workspace = [Int](repeating: 0, count: 64)
                    workspace.withUnsafeMutableBufferPointer { ws in
                        for by in 0..<usedRows {
                            for bx in 0..<usedColumns {
                                JPEGIDCT.islow(coef, offset: (by * c.blocksPerLine + bx) * 64, quant: q, workspace: ws,
                                               output: out, outOffset: by * 8 * stride + bx * 8, stride: stride)
                            }
                        }
                    }
                }
            }
        }
        return plane
    }
}

enum JPEGIDCT {
    static let constBits = 13, pass1Bits = 2
    static let fix_0_298631336 = 2446, fix_0_390180644 = 3196, fix_0_541196100 = 4433, fix_0_765366865 = 6270
    static let fix_0_899976223 = 7373, fix_1_175875602 = 9633, fix_1_501321110 = 12299, fix_1_847759065 = 15137
    static let fix_1_961570560 = 16069, fix_2_053119869 = 16819, fix_2_562915447 = 20995, fix_3_072711026 = 25172

    /// libjpeg's post-IDCT range limit: adds 128 and clamps, indexed by the value masked to 10 bits
    /// (so wildly out-of-range values of corrupt data wrap exactly as in libjpeg).
    static let rangeLimit: [UInt8] = (0..<1024).map { (m: Int) -> UInt8 in
        if m < 128 { return UInt8(m + 128) }
        if m < 512 { return 255 }
        if m < 896 { return 0 }
        return UInt8(m - 896)
    }

    @inline(__always) static func descale(_ x: Int, _ n: Int) -> Int { (x &+ (1 << (n - 1))) >> n }

    static func islow(_ coef: UnsafeBufferPointer<Int16>, offset: Int, quant q: UnsafeBufferPointer<Int>,
                      workspace ws: UnsafeMutableBufferPointer<Int>, output out: UnsafeMutableBufferPointer<UInt8>,
                      outOffset: Int, stride: Int) {
        // Pass 1: columns, results scaled up by 2^pass1Bits.
        for col in 0..<8 {
            @inline(__always) func dq(_ row: Int) -> Int { Int(coef[offset + row * 8 + col]) &* q[row * 8 + col] }
            var acBits: Int16 = 0
            for row in 1..<8 { acBits |= coef[offset + row * 8 + col] }
            if acBits == 0 {
                let dc = dq(0) << pass1Bits
                for row in 0..<8 { ws[row * 8 + col] = dc }
                continue
            }
            var z2 = dq(2), z3 = dq(6)
            var z1 = (z2 &+ z3) &* fix_0_541196100
            var tmp2 = z1 &+ z3 &* -fix_1_847759065
            var tmp3 = z1 &+ z2 &* fix_0_765366865
            z2 = dq(0); z3 = dq(4)
            var tmp0 = (z2 &+ z3) << constBits
            var tmp1 = (z2 &- z3) << constBits
            let tmp10 = tmp0 &+ tmp3, tmp13 = tmp0 &- tmp3, tmp11 = tmp1 &+ tmp2, tmp12 = tmp1 &- tmp2
            tmp0 = dq(7); tmp1 = dq(5); tmp2 = dq(3); tmp3 = dq(1)
            odd(&tmp0, &tmp1, &tmp2, &tmp3, &z1)
            let n = constBits - pass1Bits
            ws[col] = descale(tmp10 &+ tmp3, n); ws[56 + col] = descale(tmp10 &- tmp3, n)
            ws[8 + col] = descale(tmp11 &+ tmp2, n); ws[48 + col] = descale(tmp11 &- tmp2, n)
            ws[16 + col] = descale(tmp12 &+ tmp1, n); ws[40 + col] = descale(tmp12 &- tmp1, n)
            ws[24 + col] = descale(tmp13 &+ tmp0, n); ws[32 + col] = descale(tmp13 &- tmp0, n)
        }
        // Pass 2: rows, removing the pass-1 scaling and the factor 8 of the 2-D transform.
        let n = constBits + pass1Bits + 3
        for row in 0..<8 {
            let w = row * 8
            let o = outOffset + row * stride
            var acBits = 0
            for x in 1..<8 { acBits |= ws[w + x] }
            if acBits == 0 {
                let v = rangeLimit[descale(ws[w], pass1Bits + 3) & 1023]
                for x in 0..<8 { out[o + x] = v }
                continue
            }
            var z2 = ws[w + 2], z3 = ws[w + 6]
            var z1 = (z2 &+ z3) &* fix_0_541196100
            var tmp2 = z1 &+ z3 &* -fix_1_847759065
            var tmp3 = z1 &+ z2 &* fix_0_765366865
            z2 = ws[w]; z3 = ws[w + 4]
            var tmp0 = (z2 &+ z3) << constBits
            var tmp1 = (z2 &- z3) << constBits
            let tmp10 = tmp0 &+ tmp3, tmp13 = tmp0 &- tmp3, tmp11 = tmp1 &+ tmp2, tmp12 = tmp1 &- tmp2
            tmp0 = ws[w + 7]; tmp1 = ws[w + 5]; tmp2 = ws[w + 3]; tmp3 = ws[w + 1]
            odd(&tmp0, &tmp1, &tmp2, &tmp3, &z1)
            out[o] = rangeLimit[descale(tmp10 &+ tmp3, n) & 1023]; out[o + 7] = rangeLimit[descale(tmp10 &- tmp3, n) & 1023]
            out[o + 1] = rangeLimit[descale(tmp11 &+ tmp2, n) & 1023]; out[o + 6] = rangeLimit[descale(tmp11 &- tmp2, n) & 1023]
            out[o + 2] = rangeLimit[descale(tmp12 &+ tmp1, n) & 1023]; out[o + 5] = rangeLimit[descale(tmp12 &- tmp1, n) & 1023]
            out[o + 3] = rangeLimit[descale(tmp13 &+ tmp0, n) & 1023]; out[o + 4] = rangeLimit[descale(tmp13 &- tmp0, n) & 1023]
        }
    }

    /// The odd part shared by both passes: inputs x7, x5, x3, x1 in tmp0...tmp3, outputs in place.
    @inline(__always) static func odd(_ tmp0: inout Int, _ tmp1: inout Int, _ tmp2: inout Int, _ tmp3: inout Int, _ scratch: inout Int) {
        var z1 = tmp0 &+ tmp3, z2 = tmp1 &+ tmp2, z3 = tmp0 &+ tmp2, z4 = tmp1 &+ tmp3
        let z5 = (z3 &+ z4) &* fix_1_175875602
        tmp0 = tmp0 &* fix_0_298631336; tmp1 = tmp1 &* fix_2_053119869
        tmp2 = tmp2 &* fix_3_072711026; tmp3 = tmp3 &* fix_1_501321110
        z1 = z1 &* -fix_0_899976223; z2 = z2 &* -fix_2_562915447
        z3 = z3 &* -fix_1_961570560; z4 = z4 &* -fix_0_390180644
        z3 = z3 &+ z5; z4 = z4 &+ z5
        tmp0 = tmp0 &+ z1 &+ z3; tmp1 = tmp1 &+ z2 &+ z4
        tmp2 = tmp2 &+ z2 &+ z3; tmp3 = tmp3 &+ z1 &+ z4
        scratch = 0
    }
}
