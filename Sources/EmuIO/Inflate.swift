/// A DEFLATE (RFC 1951) decoder with the zlib (RFC 1950) wrapper: stored, fixed-Huffman and
/// dynamic-Huffman blocks. Reads past the input end are caught and reported as `.truncated`.
public enum Inflate {
    /// Decodes a zlib stream (2-byte header, DEFLATE data, Adler-32), checking the checksum.
    /// `expectedSize` only pre-sizes the output.
    public static func zlibDecompress(_ data: [UInt8], expectedSize: Int = 0) throws -> [UInt8] {
        guard data.count >= 2 else { throw MediaError(.truncated, "zlib", "stream shorter than its header") }
        let cmf = data[0], flg = data[1]
        guard cmf & 0x0F == 8, cmf >> 4 <= 7 else {
            throw MediaError(.corrupt, "zlib", "compression method \(cmf & 0x0F) is not deflate")
        }
        guard (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0 else { throw MediaError(.corrupt, "zlib", "header check bits wrong") }
        guard flg & 0x20 == 0 else { throw MediaError(.unsupported, "zlib", "preset dictionary") }
        var (output, end) = try data.withUnsafeBufferPointer { buffer in
            var inflater = Inflater(input: UnsafeBufferPointer(rebasing: buffer[2...]), expectedSize: expectedSize)
            try inflater.run()
            return (inflater.output, 2 + inflater.bytePosition)
        }
        guard end + 4 <= data.count else { throw MediaError(.truncated, "zlib", "missing Adler-32 checksum") }
        let stored = UInt32(data[end]) << 24 | UInt32(data[end + 1]) << 16 | UInt32(data[end + 2]) << 8 | UInt32(data[end + 3])
        let actual = Checksum.adler32(output)
        guard stored == actual else {
            throw MediaError(.checksumMismatch, "zlib", "Adler-32 is \(hex(actual)), stream says \(hex(stored))")
        }
        output.reserveCapacity(0)
        return output
    }

    /// Decodes raw DEFLATE data (no zlib wrapper).
    public static func rawDecompress(_ data: [UInt8], expectedSize: Int = 0) throws -> [UInt8] {
        try data.withUnsafeBufferPointer { buffer in
            var inflater = Inflater(input: buffer, expectedSize: expectedSize)
            try inflater.run()
            return inflater.output
        }
    }

    static func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
}

/// A canonical Huffman decoding table: `lookup[next maxLength bits, LSB first]` = symbol << 4 | length.
struct HuffmanDecodingTable {
    var lookup: [UInt16]
    var maxLength: Int

    /// `lengths[symbol]` = code length (0 = unused). Rejects over-subscribed code sets;
    /// incomplete sets are allowed (DEFLATE permits a single distance code).
    init(lengths: ArraySlice<UInt8>, format: String = "zlib") throws {
        var counts = [Int](repeating: 0, count: 16)
        for l in lengths { counts[Int(l)] += 1 }
        counts[0] = 0
        var left = 1
        for len in 1...15 {
            left = left * 2 - counts[len]
            if left < 0 { throw MediaError(.corrupt, format, "over-subscribed Huffman code lengths") }
        }
        maxLength = max(1, (1...15).last { counts[$0] > 0 } ?? 1)
        var nextCode = [Int](repeating: 0, count: 16)
        var code = 0
        for len in 1...15 { code = (code + counts[len - 1]) << 1; nextCode[len] = code }
        // Unused slots map to length 0, which the decoder reports as a corrupt code.
        lookup = [UInt16](repeating: 0, count: 1 << maxLength)
        for (i, l) in lengths.enumerated() where l > 0 {
            let len = Int(l)
            let c = nextCode[len]
            nextCode[len] += 1
            var reversed = 0
            for b in 0..<len where c & (1 << b) != 0 { reversed |= 1 << (len - 1 - b) }
            let entry = UInt16(i << 4 | len)
            var slot = reversed
            while slot < lookup.count { lookup[slot] = entry; slot += 1 << len }
        }
    }
}

/// The decoding state: a 64-bit LSB-first bit buffer over the input.
struct Inflater {
    let input: UnsafeBufferPointer<UInt8>
    var output: [UInt8] = []
    var position = 0          // next input byte to load
    var bitBuffer: UInt64 = 0
    var bitCount = 0
    var paddedBits = 0        // zero bits loaded beyond the input end

    init(input: UnsafeBufferPointer<UInt8>, expectedSize: Int) {
        self.input = input
        output.reserveCapacity(max(expectedSize, input.count * 3))
    }

    /// Input bytes consumed, rounded up to a whole byte (where the zlib trailer starts).
    var bytePosition: Int { position - paddedBits / 8 - (bitCount - paddedBits) / 8 }

    @inline(__always) mutating func refill() {
        while bitCount <= 56 {
            if position < input.count {
                bitBuffer |= UInt64(input[position]) << UInt64(bitCount)
            } else {
                paddedBits += 8
            }
            position += 1
            bitCount += 8
        }
    }

    @inline(__always) mutating func bits(_ n: Int) throws -> Int {
        if bitCount < n { refill() }
        let v = Int(bitBuffer & ((1 << UInt64(n)) - 1))
        bitBuffer >>= UInt64(n)
        bitCount -= n
        if paddedBits > bitCount { throw MediaError(.truncated, "zlib", "deflate data ends early") }
        return v
    }

    @inline(__always) mutating func decode(_ table: HuffmanDecodingTable) throws -> Int {
        if bitCount < table.maxLength { refill() }
        let entry = Int(table.lookup[Int(bitBuffer & ((1 << UInt64(table.maxLength)) - 1))])
        let len = entry & 15
        guard len > 0 else { throw MediaError(.corrupt, "zlib", "invalid Huffman code") }
        bitBuffer >>= UInt64(len)
        bitCount -= len
        if paddedBits > bitCount { throw MediaError(.truncated, "zlib", "deflate data ends early") }
        return entry >> 4
    }

    static let lengthBase: [Int] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59,
                                    67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [Int] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [Int] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
                                      1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra: [Int] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    static let fixedLiteral: HuffmanDecodingTable = {
        var l = [UInt8](repeating: 8, count: 288)
        for i in 144..<256 { l[i] = 9 }
        for i in 256..<280 { l[i] = 7 }
        return try! HuffmanDecodingTable(lengths: l[...])
    }()
    static let fixedDistance: HuffmanDecodingTable = try! HuffmanDecodingTable(lengths: [UInt8](repeating: 5, count: 30)[...])

    mutating func run() throws {
        var final = false
        while !final {
            final = try bits(1) == 1
            switch try bits(2) {
            case 0: try storedBlock()
            case 1: try huffmanBlock(literal: Self.fixedLiteral, distance: Self.fixedDistance)
            case 2:
                let (lit, dist) = try dynamicTables()
                try huffmanBlock(literal: lit, distance: dist)
            default: throw MediaError(.corrupt, "zlib", "reserved block type 3")
            }
        }
    }

    mutating func storedBlock() throws {
        // Drop to a byte boundary, then LEN and NLEN.
        _ = try bits(bitCount % 8)
        let len = try bits(16), nlen = try bits(16)
        guard len == (~nlen & 0xFFFF) else { throw MediaError(.corrupt, "zlib", "stored block length check failed") }
        // Bytes still in the bit buffer come first.
        var remaining = len
        while remaining > 0 && bitCount >= 8 { output.append(UInt8(try bits(8))); remaining -= 1 }
        guard position + remaining <= input.count else { throw MediaError(.truncated, "zlib", "stored block ends early") }
        output.append(contentsOf: UnsafeBufferPointer(rebasing: input[position..<(position + remaining)]))
        position += remaining
    }

    mutating func dynamicTables() throws -> (HuffmanDecodingTable, HuffmanDecodingTable) {
        let hlit = try bits(5) + 257, hdist = try bits(5) + 1, hclen = try bits(4) + 4
        guard hlit <= 286, hdist <= 30 else { throw MediaError(.corrupt, "zlib", "too many Huffman codes") }
        var codeLengthLengths = [UInt8](repeating: 0, count: 19)
        for i in 0..<hclen { codeLengthLengths[Self.codeLengthOrder[i]] = UInt8(try bits(3)) }
        let codeLengthTable = try HuffmanDecodingTable(lengths: codeLengthLengths[...])
        var lengths = [UInt8]()
        lengths.reserveCapacity(hlit + hdist)
        while lengths.count < hlit + hdist {
            let sym = try decode(codeLengthTable)
            switch sym {
            case 0...15: lengths.append(UInt8(sym))
            case 16:
                guard let last = lengths.last else { throw MediaError(.corrupt, "zlib", "repeat with no previous length") }
                lengths.append(contentsOf: repeatElement(last, count: 3 + (try bits(2))))
            case 17: lengths.append(contentsOf: repeatElement(0, count: 3 + (try bits(3))))
            default: lengths.append(contentsOf: repeatElement(0, count: 11 + (try bits(7))))
            }
        }
        guard lengths.count == hlit + hdist else { throw MediaError(.corrupt, "zlib", "code lengths overrun") }
        guard lengths[256] != 0 else { throw MediaError(.corrupt, "zlib", "no end-of-block code") }
        return (try HuffmanDecodingTable(lengths: lengths[0..<hlit]), try HuffmanDecodingTable(lengths: lengths[hlit...]))
    }

    mutating func huffmanBlock(literal: HuffmanDecodingTable, distance: HuffmanDecodingTable) throws {
        while true {
            let sym = try decode(literal)
            if sym < 256 {
                output.append(UInt8(sym))
            } else if sym == 256 {
                return
            } else {
                let li = sym - 257
                guard li < 29 else { throw MediaError(.corrupt, "zlib", "invalid length symbol \(sym)") }
                let length = Self.lengthBase[li] + (try bits(Self.lengthExtra[li]))
                let di = try decode(distance)
                guard di < 30 else { throw MediaError(.corrupt, "zlib", "invalid distance symbol \(di)") }
                let dist = Self.distanceBase[di] + (try bits(Self.distanceExtra[di]))
                guard dist <= output.count else { throw MediaError(.corrupt, "zlib", "distance \(dist) reaches before the start") }
                var from = output.count - dist
                for _ in 0..<length { output.append(output[from]); from += 1 }
            }
        }
    }
}
