/// Entropy-coded segment reading for JPEG: the bit reader (byte stuffing, markers) and
/// Huffman tables with a 9-bit lookahead, as used by baseline and progressive scans.
struct JPEGHuffmanTable {
    static let lookaheadBits = 9
    /// lookahead[next 9 bits] = length << 8 | value; length 0 = longer code, take the slow path.
    var lookahead = [UInt16](repeating: 0, count: 1 << lookaheadBits)
    var maxCode = [Int](repeating: -1, count: 18)
    var minCode = [Int](repeating: 0, count: 17)
    var valueOffset = [Int](repeating: 0, count: 17)
    var values: [UInt8] = []

    /// `counts[l - 1]` codes of length l, then the symbol values in code order.
    init(counts: [Int], values: [UInt8]) throws {
        self.values = values
        var code = 0, k = 0
        for l in 1...16 {
            let n = counts[l - 1]
            valueOffset[l] = k
            minCode[l] = code
            code += n
            k += n
            if code > (1 << l) { throw MediaError(.corrupt, "JPEG", "Huffman table has too many codes of length \(l)") }
            maxCode[l] = n > 0 ? code - 1 : -1
            if l <= Self.lookaheadBits {
                for i in 0..<n {
                    let c = minCode[l] + i
                    let shift = Self.lookaheadBits - l
                    for slot in (c << shift)..<((c + 1) << shift) {
                        lookahead[slot] = UInt16(l << 8 | Int(values[valueOffset[l] + i]))
                    }
                }
            }
            code <<= 1
        }
        maxCode[17] = Int.max
    }
}

/// MSB-first bits of an entropy-coded segment. Stops at a marker and then supplies zero bits,
/// as libjpeg does; bits supplied past the end of the file are counted so truncation is reported.
struct JPEGBitReader {
    let data: UnsafeBufferPointer<UInt8>
    var position: Int
    var buffer: UInt64 = 0     // valid bits left-aligned
    var count = 0
    var atMarker = false
    var bitsPastEnd = 0

    init(data: UnsafeBufferPointer<UInt8>, position: Int) {
        self.data = data
        self.position = position
    }

    @inline(__always) mutating func refill() {
        while count <= 56 {
            var byte: UInt8 = 0
            if atMarker {
                // zero fill (corrupt data: libjpeg warns and goes on)
            } else if position >= data.count {
                bitsPastEnd += 8
            } else if data[position] == 0xFF {
                let next = position + 1 < data.count ? data[position + 1] : 0
                if next == 0 {
                    byte = 0xFF
                    position += 2
                } else if position + 1 >= data.count {
                    position += 1
                    bitsPastEnd += 8
                } else {
                    atMarker = true
                }
            } else {
                byte = data[position]
                position += 1
            }
            buffer |= UInt64(byte) << UInt64(56 - count)
            count += 8
        }
    }

    /// True once bits beyond the end of the file were consumed.
    var ranPastEnd: Bool { bitsPastEnd > count }

    @inline(__always) mutating func bits(_ n: Int) -> Int {
        guard n > 0 else { return 0 }
        if count < n { refill() }
        let v = Int(buffer >> UInt64(64 - n))
        buffer <<= UInt64(n)
        count -= n
        return v
    }

    @inline(__always) mutating func bit() -> Int { bits(1) }

    /// A value of `s` bits in JPEG's one's-complement-like magnitude coding.
    @inline(__always) mutating func receiveExtended(_ s: Int) -> Int {
        guard s > 0 else { return 0 }
        let v = bits(s)
        return v < (1 << (s - 1)) ? v - (1 << s) + 1 : v
    }

    @inline(__always) mutating func decode(_ table: JPEGHuffmanTable) throws -> Int {
        if count < 16 { refill() }
        let entry = Int(table.lookahead[Int(buffer >> UInt64(64 - JPEGHuffmanTable.lookaheadBits))])
        if entry >> 8 != 0 {
            let len = entry >> 8
            buffer <<= UInt64(len)
            count -= len
            return entry & 0xFF
        }
        let code16 = Int(buffer >> 48)
        for l in (JPEGHuffmanTable.lookaheadBits + 1)...16 {
            let c = code16 >> (16 - l)
            if c <= table.maxCode[l] {
                buffer <<= UInt64(l)
                count -= l
                let index = table.valueOffset[l] + c - table.minCode[l]
                guard index < table.values.count else { break }
                return Int(table.values[index])
            }
        }
        if ranPastEnd || bitsPastEnd > 0 { throw MediaError(.truncated, "JPEG", "entropy-coded data ends early") }
        throw MediaError(.corrupt, "JPEG", "invalid Huffman code near byte \(position)")
    }

    /// Discards buffered bits and steps over an RSTn marker (or resynchronises on the next one).
    mutating func restart() throws {
        buffer = 0
        count = 0
        bitsPastEnd = 0
        atMarker = false
        var p = position
        while p + 1 < data.count {
            if data[p] == 0xFF && (0xD0...0xD7).contains(data[p + 1]) { position = p + 2; return }
            if data[p] == 0xFF && data[p + 1] != 0 && data[p + 1] != 0xFF { break }  // a different marker
            p += 1
        }
        if p + 1 >= data.count { throw MediaError(.truncated, "JPEG", "file ends before a restart marker") }
        position = p  // missing RST: go on at the marker, as libjpeg does after its warning
        atMarker = true
    }
}
