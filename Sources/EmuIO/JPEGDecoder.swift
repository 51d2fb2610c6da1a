/// JPEG decoding (baseline, extended and progressive Huffman; 8-bit; 1 or 3 components; any
/// integral chroma subsampling; restart intervals) made to match Pillow, which uses libjpeg-turbo:
/// the same integer "islow" inverse DCT, "fancy" (triangle) chroma upsampling and fixed-point
/// YCbCr->RGB tables, so results are expected to equal Pillow's up to rare rounding differences.
public enum JPEG {
    public static let maxPixels = 1 << 28

    public static func isJPEG(_ data: [UInt8]) -> Bool { data.count >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF }

    public static func decode(_ data: [UInt8]) throws -> RGBImage {
        guard data.count >= 2, data[0] == 0xFF, data[1] == 0xD8 else { throw MediaError(.notAnImage, "JPEG", "missing SOI marker") }
        var decoder = JPEGDecoder()
        try data.withUnsafeBufferPointer { try decoder.run($0) }
        return try decoder.makeImage()
    }
}

struct JPEGComponent {
    var id = 0, h = 1, v = 1, quantTable = 0
    var dcTable = 0, acTable = 0
    var blocksPerLine = 0, blocksPerColumn = 0      // allocated (whole MCUs)
    var width = 0, height = 0                       // downsampled size in samples
    var coefficients: [Int16] = []                  // natural order, 64 per block
    var dcPredictor = 0
}

struct JPEGDecoder {
    var width = 0, height = 0
    var progressive = false
    var components: [JPEGComponent] = []
    var quantTables = [[Int]](repeating: [Int](repeating: 1, count: 64), count: 4)
    var dcTables = [JPEGHuffmanTable?](repeating: nil, count: 4)
    var acTables = [JPEGHuffmanTable?](repeating: nil, count: 4)
    var restartInterval = 0
    var sawJFIF = false
    var adobeTransform: Int?
    var maxH = 1, maxV = 1, mcusPerLine = 0, mcusPerColumn = 0
    var eobRun = 0
    var sawScan = false

    /// JPEG zigzag position -> natural (row-major) index.
    static let naturalOrder: [Int] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
        28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61,
        54, 47, 55, 62, 63]

    mutating func run(_ data: UnsafeBufferPointer<UInt8>) throws {
        var p = 2
        while true {
            // Find the next marker, skipping fill bytes and any stray data.
            while p < data.count && data[p] != 0xFF { p += 1 }
            while p < data.count && data[p] == 0xFF { p += 1 }
            guard p < data.count else {
                if sawScan { throw MediaError(.truncated, "JPEG", "no EOI marker: file cut off") }
                throw MediaError(.truncated, "JPEG", "file ends before any image data")
            }
            let marker = Int(data[p])
            p += 1
            if marker == 0xD9 { break }                          // EOI
            if marker == 0x01 || (0xD0...0xD8).contains(marker) { continue }  // no length
            guard p + 2 <= data.count else { throw MediaError(.truncated, "JPEG", "marker 0x\(String(marker, radix: 16)) cut off") }
            let length = Int(data[p]) << 8 | Int(data[p + 1])
            guard length >= 2 else { throw MediaError(.corrupt, "JPEG", "segment length \(length) at byte \(p)") }
            guard p + length <= data.count else { throw MediaError(.truncated, "JPEG", "segment 0x\(String(marker, radix: 16)) at byte \(p) cut off") }
            let segment = UnsafeBufferPointer(rebasing: data[(p + 2)..<(p + length)])
            switch marker {
            case 0xC0, 0xC1, 0xC2:
                try parseFrame(segment, progressive: marker == 0xC2)
            case 0xC3, 0xC5...0xC7, 0xC9...0xCB, 0xCD...0xCF:
                let kind = marker == 0xC3 ? "lossless" : marker >= 0xC9 ? "arithmetic-coded" : "hierarchical"
                throw MediaError(.unsupported, "JPEG", "\(kind) JPEG (SOF 0x\(String(marker, radix: 16)))")
            case 0xC4: try parseHuffmanTables(segment)
            case 0xDB: try parseQuantTables(segment)
            case 0xDD:
                guard segment.count >= 2 else { throw MediaError(.corrupt, "JPEG", "DRI segment too short") }
                restartInterval = Int(segment[0]) << 8 | Int(segment[1])
            case 0xE0:
                if segment.count >= 5 && Array(segment[0..<5]) == Array("JFIF\0".utf8) { sawJFIF = true }
            case 0xEE:
                if segment.count >= 12 && Array(segment[0..<5]) == Array("Adobe".utf8) { adobeTransform = Int(segment[11]) }
            case 0xDA:
                p = try decodeScan(segment, data: data, scanStart: p + length)
                sawScan = true
                continue
            default: break  // APPn, COM, DNL handled as no-ops
            }
            p += length
        }
        guard !components.isEmpty else { throw MediaError(.corrupt, "JPEG", "no frame header (SOF)") }
        guard sawScan else { throw MediaError(.corrupt, "JPEG", "no scan data") }
    }

    mutating func parseFrame(_ s: UnsafeBufferPointer<UInt8>, progressive: Bool) throws {
        guard components.isEmpty else { throw MediaError(.corrupt, "JPEG", "more than one SOF") }
        guard s.count >= 6 else { throw MediaError(.corrupt, "JPEG", "SOF too short") }
        guard s[0] == 8 else { throw MediaError(.unsupported, "JPEG", "\(s[0])-bit samples (only 8-bit)") }
        self.progressive = progressive
        height = Int(s[1]) << 8 | Int(s[2])
        width = Int(s[3]) << 8 | Int(s[4])
        let n = Int(s[5])
        guard width > 0, height > 0 else { throw MediaError(.unsupported, "JPEG", "size \(width)x\(height) (DNL height)") }
        guard width * height <= JPEG.maxPixels else { throw MediaError(.unsupported, "JPEG", "\(width)x\(height) too large") }
        guard n == 1 || n == 3 else {
            throw MediaError(.unsupported, "JPEG", n == 4 ? "CMYK/YCCK (4-component) JPEG" : "\(n)-component JPEG")
        }
        guard s.count >= 6 + 3 * n else { throw MediaError(.corrupt, "JPEG", "SOF too short for \(n) components") }
        for i in 0..<n {
            var c = JPEGComponent()
            c.id = Int(s[6 + 3 * i])
            c.h = Int(s[7 + 3 * i] >> 4); c.v = Int(s[7 + 3 * i] & 15)
            c.quantTable = Int(s[8 + 3 * i])
            guard (1...4).contains(c.h), (1...4).contains(c.v), c.quantTable < 4 else {
                throw MediaError(.corrupt, "JPEG", "component \(c.id): sampling \(c.h)x\(c.v), table \(c.quantTable)")
            }
            components.append(c)
        }
        if n == 1 { components[0].h = 1; components[0].v = 1 }  // a lone component is never subsampled
        maxH = components.map(\.h).max()!
        maxV = components.map(\.v).max()!
        for c in components where maxH % c.h != 0 || maxV % c.v != 0 {
            throw MediaError(.unsupported, "JPEG", "non-integral sampling ratio \(maxH)/\(c.h) x \(maxV)/\(c.v)")
        }
        mcusPerLine = (width + 8 * maxH - 1) / (8 * maxH)
        mcusPerColumn = (height + 8 * maxV - 1) / (8 * maxV)
        for i in components.indices {
            components[i].blocksPerLine = mcusPerLine * components[i].h
            components[i].blocksPerColumn = mcusPerColumn * components[i].v
            components[i].width = (width * components[i].h + maxH - 1) / maxH
            components[i].height = (height * components[i].v + maxV - 1) / maxV
            components[i].coefficients = [Int16](repeating: 0, count: components[i].blocksPerLine * components[i].blocksPerColumn * 64)
        }
    }

    mutating func parseHuffmanTables(_ s: UnsafeBufferPointer<UInt8>) throws {
        var i = 0
        while i < s.count {
            guard i + 17 <= s.count else { throw MediaError(.corrupt, "JPEG", "DHT segment too short") }
            let cls = Int(s[i] >> 4), id = Int(s[i] & 15)
            guard cls <= 1, id < 4 else { throw MediaError(.corrupt, "JPEG", "Huffman table class \(cls) id \(id)") }
            let counts = (0..<16).map { Int(s[i + 1 + $0]) }
            let total = counts.reduce(0, +)
            guard total <= 256, i + 17 + total <= s.count else { throw MediaError(.corrupt, "JPEG", "DHT table \(id) too long") }
            let table = try JPEGHuffmanTable(counts: counts, values: Array(s[(i + 17)..<(i + 17 + total)]))
            if cls == 0 { dcTables[id] = table } else { acTables[id] = table }
            i += 17 + total
        }
    }

    mutating func parseQuantTables(_ s: UnsafeBufferPointer<UInt8>) throws {
        var i = 0
        while i < s.count {
            let precision = Int(s[i] >> 4), id = Int(s[i] & 15)
            guard id < 4, precision <= 1 else { throw MediaError(.corrupt, "JPEG", "quantization table \(id) precision \(precision)") }
            let size = precision == 0 ? 64 : 128
            guard i + 1 + size <= s.count else { throw MediaError(.corrupt, "JPEG", "DQT segment too short") }
            var table = [Int](repeating: 0, count: 64)
            for k in 0..<64 {
                table[Self.naturalOrder[k]] = precision == 0 ? Int(s[i + 1 + k]) : Int(s[i + 1 + 2 * k]) << 8 | Int(s[i + 2 + 2 * k])
            }
            quantTables[id] = table
            i += 1 + size
        }
    }

    /// Decodes one scan; returns the byte offset where its entropy-coded data stopped.
    mutating func decodeScan(_ s: UnsafeBufferPointer<UInt8>, data: UnsafeBufferPointer<UInt8>, scanStart: Int) throws -> Int {
        guard !components.isEmpty else { throw MediaError(.corrupt, "JPEG", "scan before frame header") }
        guard s.count >= 1 else { throw MediaError(.corrupt, "JPEG", "SOS too short") }
        let n = Int(s[0])
        guard n >= 1, n <= components.count, s.count >= 4 + 2 * n else { throw MediaError(.corrupt, "JPEG", "SOS with \(n) components") }
        var scanComponents: [Int] = []
        for i in 0..<n {
            let id = Int(s[1 + 2 * i])
            guard let index = components.firstIndex(where: { $0.id == id }) else {
                throw MediaError(.corrupt, "JPEG", "scan names unknown component \(id)")
            }
            components[index].dcTable = Int(s[2 + 2 * i] >> 4)
            components[index].acTable = Int(s[2 + 2 * i] & 15)
            guard components[index].dcTable < 4, components[index].acTable < 4 else { throw MediaError(.corrupt, "JPEG", "Huffman table id") }
            scanComponents.append(index)
        }
        let ss = Int(s[1 + 2 * n]), se = Int(s[2 + 2 * n])
        let ah = Int(s[3 + 2 * n] >> 4), al = Int(s[3 + 2 * n] & 15)
        if progressive {
            guard ss <= se, se <= 63, (ss == 0) == (se == 0), al < 14, ah < 14 else {
                throw MediaError(.corrupt, "JPEG", "progressive scan parameters Ss=\(ss) Se=\(se) Ah=\(ah) Al=\(al)")
            }
            if ss > 0 && n != 1 { throw MediaError(.corrupt, "JPEG", "AC scan with \(n) components") }
        }
        // Tables the scan needs must exist.
        for c in scanComponents {
            let needsDC = !progressive || (ss == 0 && ah == 0)
            let needsAC = !progressive || ss > 0
            if needsDC && dcTables[components[c].dcTable] == nil { throw MediaError(.corrupt, "JPEG", "missing DC Huffman table") }
            if needsAC && acTables[components[c].acTable] == nil { throw MediaError(.corrupt, "JPEG", "missing AC Huffman table") }
        }
        for c in scanComponents { components[c].dcPredictor = 0 }
        eobRun = 0
        var reader = JPEGBitReader(data: data, position: scanStart)
        let scan = ScanParameters(ss: progressive ? ss : 0, se: progressive ? se : 63, ah: progressive ? ah : 0, al: progressive ? al : 0)

        let single = scanComponents.count == 1
        let blocksWide = single ? (components[scanComponents[0]].width + 7) / 8 : mcusPerLine
        let blocksHigh = single ? (components[scanComponents[0]].height + 7) / 8 : mcusPerColumn
        let mcuCount = blocksWide * blocksHigh
        for mcu in 0..<mcuCount {
            if restartInterval > 0 && mcu > 0 && mcu % restartInterval == 0 {
                try reader.restart()
                for c in scanComponents { components[c].dcPredictor = 0 }
                eobRun = 0
            }
            let mx = mcu % blocksWide, my = mcu / blocksWide
            if single {
                try decodeBlock(component: scanComponents[0], row: my, column: mx, scan: scan, reader: &reader)
            } else {
                for c in scanComponents {
                    for by in 0..<components[c].v {
                        for bx in 0..<components[c].h {
                            try decodeBlock(component: c, row: my * components[c].v + by, column: mx * components[c].h + bx,
                                            scan: scan, reader: &reader)
                        }
                    }
                }
            }
            if reader.ranPastEnd { throw MediaError(.truncated, "JPEG", "scan data ends at MCU \(mcu) of \(mcuCount)") }
        }
        return reader.position
    }

    struct ScanParameters { var ss: Int, se: Int, ah: Int, al: Int }
}
