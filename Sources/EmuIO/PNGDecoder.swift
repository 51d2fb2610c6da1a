/// PNG decoding: every colour type and bit depth, all five filters, Adam7, chunk CRCs; the result
/// is converted to RGB as Pillow's `convert("RGB")` does (what Emu3's image processor sees):
/// alpha is dropped (not blended), grey is replicated, palettes are looked up, 16-bit RGB(A)
/// keeps the high byte, and 16-bit grey (Pillow mode "I;16") is clamped to 255.
public enum PNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// Refuses images larger than this many pixels (a corrupt header must not allocate gigabytes).
    public static let maxPixels = 1 << 28

    /// IHDR fields.
    struct Header {
        var width = 0, height = 0, bitDepth = 0, colorType = 0, interlaced = false
        var channels: Int { [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType] ?? 0 }
        var bitsPerPixel: Int { channels * bitDepth }
        var filterStride: Int { max(1, bitsPerPixel / 8) }
        func rowBytes(_ w: Int) -> Int { (w * bitsPerPixel + 7) / 8 }
    }

    public static func isPNG(_ data: [UInt8]) -> Bool { data.count >= 8 && Array(data[0..<8]) == signature }

    public static func decode(_ data: [UInt8]) throws -> RGBImage {
        guard isPNG(data) else { throw MediaError(.notAnImage, "PNG", "missing PNG signature") }
        var header: Header?
        var palette = [UInt8]()
        var compressed = [UInt8]()
        var offset = 8
        chunks: while true {
            guard offset < data.count else {
                if header != nil && !compressed.isEmpty { break chunks }  // tolerate a missing IEND
                throw MediaError(.truncated, "PNG", "file ends before the image data")
            }
            guard offset + 12 <= data.count else { throw MediaError(.truncated, "PNG", "chunk header at byte \(offset) cut off") }
            let length = Int(readUInt32(data, offset))
            let typeBytes = data[(offset + 4)..<(offset + 8)]
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length <= 0x7FFF_FFFF, offset + 12 + length <= data.count else {
                throw MediaError(.truncated, "PNG", "chunk \(type) at byte \(offset) (\(length) bytes) cut off")
            }
            let body = data[(offset + 8)..<(offset + 8 + length)]
            let storedCRC = readUInt32(data, offset + 8 + length)
            guard Checksum.crc32(data[(offset + 4)..<(offset + 8 + length)]) == storedCRC else {
                throw MediaError(.checksumMismatch, "PNG", "CRC of chunk \(type) at byte \(offset) does not match")
            }
            offset += 12 + length
            if header == nil && type != "IHDR" { throw MediaError(.corrupt, "PNG", "first chunk is \(type), not IHDR") }
            switch type {
            case "IHDR": header = try parseHeader(Array(body))
            case "PLTE":
                guard length % 3 == 0, length <= 768 else { throw MediaError(.corrupt, "PNG", "PLTE length \(length)") }
                palette = Array(body)
            case "IDAT": compressed.append(contentsOf: body)
            case "IEND": break chunks
            default:
                // Bit 5 of the first letter clear = critical chunk we do not know.
                if let first = typeBytes.first, first & 0x20 == 0 {
                    throw MediaError(.unsupported, "PNG", "unknown critical chunk \(type)")
                }
            }
        }
        guard let h = header else { throw MediaError(.corrupt, "PNG", "no IHDR") }
        guard !compressed.isEmpty else { throw MediaError(.corrupt, "PNG", "no IDAT data") }
        if h.colorType == 3 && palette.isEmpty { throw MediaError(.corrupt, "PNG", "palette image without PLTE") }
        let passes = h.interlaced ? adam7 : [(0, 0, 1, 1)]
        var expected = 0
        for p in passes {
            let (pw, ph) = passSize(p, h)
            if pw > 0 && ph > 0 { expected += ph * (1 + h.rowBytes(pw)) }
        }
        let raw: [UInt8]
        do {
            raw = try Inflate.zlibDecompress(compressed, expectedSize: expected)
        } catch var e as MediaError {
            e.format = "PNG"
            e.detail = "image data: " + e.detail
            throw e
        }
        guard raw.count >= expected else {
            throw MediaError(.truncated, "PNG", "image data has \(raw.count) bytes, needs \(expected)")
        }
        var pixels = [UInt8](repeating: 0, count: h.width * h.height * 3)
        var rawOffset = 0
        for p in passes {
            let (pw, ph) = passSize(p, h)
            guard pw > 0 && ph > 0 else { continue }
            let rowBytes = h.rowBytes(pw)
            var rows = Array(raw[rawOffset..<(rawOffset + ph * (1 + rowBytes))])
            rawOffset += ph * (1 + rowBytes)
            try unfilter(&rows, rowBytes: rowBytes, rowCount: ph, stride: h.filterStride)
            expand(rows, rowBytes: rowBytes, pass: p, passWidth: pw, passHeight: ph, header: h, palette: palette, into: &pixels)
        }
        return RGBImage(width: h.width, height: h.height, pixels: pixels)
    }

    /// (x0, y0, dx, dy) of the seven Adam7 passes.
    static let adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

    static func passSize(_ p: (Int, Int, Int, Int), _ h: Header) -> (Int, Int) {
        let (x0, y0, dx, dy) = p
        return ((h.width - x0 + dx - 1) / dx, (h.height - y0 + dy - 1) / dy)
    }

    static func readUInt32(_ d: [UInt8], _ i: Int) -> UInt32 {
        UInt32(d[i]) << 24 | UInt32(d[i + 1]) << 16 | UInt32(d[i + 2]) << 8 | UInt32(d[i + 3])
    }

    static func parseHeader(_ b: [UInt8]) throws -> Header {
        guard b.count == 13 else { throw MediaError(.corrupt, "PNG", "IHDR has \(b.count) bytes, not 13") }
        var h = Header()
        h.width = Int(readUInt32(b, 0)); h.height = Int(readUInt32(b, 4))
        h.bitDepth = Int(b[8]); h.colorType = Int(b[9])
        let allowed: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard let depths = allowed[h.colorType], depths.contains(h.bitDepth) else {
            throw MediaError(.corrupt, "PNG", "colour type \(h.colorType) with bit depth \(h.bitDepth) is not valid")
        }
        guard h.width > 0, h.height > 0, h.width <= 0x7FFF_FFFF, h.height <= 0x7FFF_FFFF else {
            throw MediaError(.corrupt, "PNG", "size \(h.width)x\(h.height)")
        }
        guard h.width.multipliedReportingOverflow(by: h.height).partialValue <= maxPixels, h.width <= maxPixels, h.height <= maxPixels else {
            throw MediaError(.unsupported, "PNG", "\(h.width)x\(h.height) is larger than \(maxPixels) pixels")
        }
        guard b[10] == 0, b[11] == 0 else { throw MediaError(.corrupt, "PNG", "unknown compression or filter method") }
        guard b[12] <= 1 else { throw MediaError(.corrupt, "PNG", "unknown interlace method \(b[12])") }
        h.interlaced = b[12] == 1
        return h
    }

    /// Undoes the per-row filters in place; `rows` holds (1 + rowBytes) bytes per row.
    static func unfilter(_ rows: inout [UInt8], rowBytes: Int, rowCount: Int, stride bpp: Int) throws {
        try rows.withUnsafeMutableBufferPointer { buf in
            let line = rowBytes + 1
            for y in 0..<rowCount {
                let start = y * line + 1
                let prior = start - line  // only read when y > 0
                let type = buf[start - 1]
                switch type {
                case 0: break
                case 1:
                    for i in bpp..<max(bpp, rowBytes) { buf[start + i] &+= buf[start + i - bpp] }
                case 2:
                    if y > 0 { for i in 0..<rowBytes { buf[start + i] &+= buf[prior + i] } }
                case 3:
                    for i in 0..<rowBytes {
                        let a = i >= bpp ? Int(buf[start + i - bpp]) : 0
                        let b = y > 0 ? Int(buf[prior + i]) : 0
                        buf[start + i] &+= UInt8((a + b) >> 1)
                    }
                case 4:
                    for i in 0..<rowBytes {
                        let a = i >= bpp ? Int(buf[start + i - bpp]) : 0
                        let b = y > 0 ? Int(buf[prior + i]) : 0
                        let c = (i >= bpp && y > 0) ? Int(buf[prior + i - bpp]) : 0
                        buf[start + i] &+= UInt8(paeth(a, b, c))
                    }
                default:
                    throw MediaError(.corrupt, "PNG", "unknown filter type \(type) in row \(y)")
                }
            }
        }
    }

    @inline(__always) static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    /// Converts unfiltered rows of one pass to RGB at the pass's pixel positions.
    static func expand(_ rows: [UInt8], rowBytes: Int, pass: (Int, Int, Int, Int), passWidth: Int, passHeight: Int,
                       header h: Header, palette: [UInt8], into pixels: inout [UInt8]) {
        let (x0, y0, dx, dy) = pass
        let depth = h.bitDepth
        let paletteCount = palette.count / 3
        rows.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                for py in 0..<passHeight {
                    let row = py * (rowBytes + 1) + 1
                    /// Sample k of this row at the image's bit depth.
                    @inline(__always) func sample(_ k: Int) -> Int {
                        switch depth {
                        case 8: return Int(src[row + k])
                        case 16: return Int(src[row + 2 * k]) << 8 | Int(src[row + 2 * k + 1])
                        default:
                            let bit = k * depth
                            return Int(src[row + bit >> 3] >> UInt8(8 - depth - (bit & 7))) & ((1 << depth) - 1)
                        }
                    }
                    for px in 0..<passWidth {
                        let o = (((y0 + py * dy) * h.width) + x0 + px * dx) * 3
                        var r = 0, g = 0, b = 0
                        switch h.colorType {
                        case 0:
                            let v = sample(px)
                            switch depth {
                            case 16: r = min(v, 255)       // Pillow "I;16" -> "RGB" clamps
                            case 8: r = v
                            default: r = v * 255 / ((1 << depth) - 1)
                            }
                            g = r; b = r
                        case 4:
                            r = depth == 16 ? sample(2 * px) >> 8 : sample(2 * px)
                            g = r; b = r
                        case 2, 6:
                            let c = h.colorType == 2 ? 3 : 4
                            let shift = depth == 16 ? 8 : 0
                            r = sample(c * px) >> shift; g = sample(c * px + 1) >> shift; b = sample(c * px + 2) >> shift
                        default:
                            let index = sample(px)
                            if index < paletteCount {
                                r = Int(palette[3 * index]); g = Int(palette[3 * index + 1]); b = Int(palette[3 * index + 2])
                            }
                        }
                        dst[o] = UInt8(r); dst[o + 1] = UInt8(g); dst[o + 2] = UInt8(b)
                    }
                }
            }
        }
    }
}
