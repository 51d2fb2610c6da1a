/// A DEFLATE encoder (RFC 1951) with the zlib wrapper: LZ77 over a 32 KiB window with hash chains
/// and one-step lazy matching, then per block the cheapest of stored, fixed and dynamic Huffman.
public enum Deflate {
    /// Compresses into a zlib stream. `effort` bounds the hash-chain walk (8 fast ... 256 thorough).
    public static func zlibCompress(_ data: [UInt8], effort: Int = 48) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x9C]
        out.append(contentsOf: rawCompress(data, effort: effort))
        let adler = Checksum.adler32(data)
        out.append(contentsOf: [UInt8(adler >> 24), UInt8((adler >> 16) & 0xFF), UInt8((adler >> 8) & 0xFF), UInt8(adler & 0xFF)])
        return out
    }

    /// Compresses into raw DEFLATE data.
    public static func rawCompress(_ data: [UInt8], effort: Int = 48) -> [UInt8] {
        var writer = BitWriter()
        let tokens = data.withUnsafeBufferPointer { LZ77.tokens(of: $0, maxChain: max(1, effort)) }
        // Blocks of up to 16 Ki tokens, each with its own Huffman codes.
        let blockTokens = 16_384
        var start = 0, byteStart = 0
        repeat {
            let end = min(start + blockTokens, tokens.count)
            let slice = tokens[start..<end]
            var byteCount = 0
            for t in slice { byteCount += t.isMatch ? t.length : 1 }
            let isLast = end == tokens.count
            BlockEncoder.write(slice, bytes: data[byteStart..<(byteStart + byteCount)], isLast: isLast, to: &writer)
            start = end
            byteStart += byteCount
        } while start < tokens.count
        return writer.finish()
    }
}

/// An LZ77 token: a literal byte or a (length, distance) back-reference.
struct LZToken {
    var value: UInt32  // literal: byte; match: 0x8000_0000 | length << 16 | distance
    static func literal(_ b: UInt8) -> LZToken { LZToken(value: UInt32(b)) }
    static func match(length: Int, distance: Int) -> LZToken { LZToken(value: 0x8000_0000 | UInt32(length) << 16 | UInt32(distance)) }
    var isMatch: Bool { value & 0x8000_0000 != 0 }
    var length: Int { Int((value >> 16) & 0x7FFF) }
    var distance: Int { Int(value & 0xFFFF) }
    var literal: Int { Int(value & 0xFF) }
}

enum LZ77 {
    static let windowSize = 32_768
    static let minMatch = 3, maxMatch = 258

    static func tokens(of data: UnsafeBufferPointer<UInt8>, maxChain: Int) -> [LZToken] {
        let n = data.count
        var tokens = [LZToken]()
        tokens.reserveCapacity(n / 2 + 16)
        let hashBits = 15
        var head = [Int32](repeating: -1, count: 1 << hashBits)
        var prev = [Int32](repeating: -1, count: windowSize)
        @inline(__always) func hash(_ i: Int) -> Int {
            let v = UInt32(data[i]) << 16 | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2])
            return Int((v &* 2_654_435_761) >> UInt32(32 - hashBits))
        }
        @inline(__always) func insert(_ i: Int) {
            guard i + 2 < n else { return }
            let h = hash(i)
            prev[i & (windowSize - 1)] = head[h]
            head[h] = Int32(i)
        }
        /// The longest match for position i: (length, distance), length 0 when none.
        func longestMatch(_ i: Int, atLeast: Int) -> (Int, Int) {
            guard i + 2 < n else { return (0, 0) }
            var candidate = Int(head[hash(i)])
            var best = atLeast, bestDistance = 0
            let limit = min(maxMatch, n - i)
            var chain = maxChain
            while candidate >= 0 && i - candidate <= windowSize && chain > 0 {
                // Quick reject: the byte that would extend the best match must agree.
                if best < limit && data[candidate + best] == data[i + best] && data[candidate] == data[i] {
                    var l = 0
                    while l < limit && data[candidate + l] == data[i + l] { l += 1 }
                    if l > best {
                        best = l
                        bestDistance = i - candidate
                        if l == limit { break }
                    }
                }
                let next = Int(prev[candidate & (windowSize - 1)])
                if next >= candidate { break }  // stale entry from an older window
                candidate = next
                chain -= 1
            }
            return bestDistance > 0 && best >= minMatch ? (best, bestDistance) : (0, 0)
        }

        var i = 0
        while i < n {
            var (length, distance) = longestMatch(i, atLeast: minMatch - 1)
            insert(i)
            if length > 0 && length < 32 && i + 1 < n {
                // Lazy step: if the next position matches longer, emit a literal here instead.
                let (nextLength, nextDistance) = longestMatch(i + 1, atLeast: length)
                if nextLength > length {
                    tokens.append(.literal(data[i]))
                    i += 1
                    insert(i)
                    (length, distance) = (nextLength, nextDistance)
                }
            }
            if length > 0 {
                tokens.append(.match(length: length, distance: distance))
                for j in (i + 1)..<(i + length) { insert(j) }
                i += length
            } else {
                tokens.append(.literal(data[i]))
                i += 1
            }
        }
        return tokens
    }
}

/// LSB-first bit packing.
struct BitWriter {
    var bytes: [UInt8] = []
    var buffer: UInt64 = 0
    var count = 0

    @inline(__always) mutating func write(_ value: Int, _ n: Int) {
        buffer |= UInt64(value) << UInt64(count)
        count += n
        while count >= 8 { bytes.append(UInt8(buffer & 0xFF)); buffer >>= 8; count -= 8 }
    }

    /// Writes a Huffman code (stored MSB-first in `code`) of `length` bits.
    @inline(__always) mutating func writeCode(_ code: Int, _ length: Int) {
        var r = 0
        for b in 0..<length where code & (1 << b) != 0 { r |= 1 << (length - 1 - b) }
        write(r, length)
    }

    mutating func alignToByte() { if count > 0 { write(0, 8 - count) } }

    mutating func finish() -> [UInt8] { alignToByte(); return bytes }
}

/// Length-limited canonical Huffman codes for the encoder.
enum HuffmanCodeBuilder {
    /// Code lengths for the given frequencies, none longer than `limit`. Unused symbols get 0;
    /// if only one symbol is used it gets length 1.
    static func lengths(_ frequencies: [Int], limit: Int) -> [UInt8] {
        var freqs = frequencies
        while true {
            let lengths = unlimitedLengths(freqs)
            if (lengths.max() ?? 0) <= limit { return lengths }
            // Flatten the distribution and retry: keeps used symbols, shortens the longest codes.
            freqs = freqs.map { $0 == 0 ? 0 : ($0 + 1) / 2 }
        }
    }

    static func unlimitedLengths(_ freqs: [Int]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: freqs.count)
        let used = freqs.indices.filter { freqs[$0] > 0 }.sorted { (freqs[$0], $0) < (freqs[$1], $1) }
        if used.isEmpty { return result }
        if used.count == 1 { result[used[0]] = 1; return result }
        // Two-queue Huffman: leaves sorted by weight, internal nodes created in weight order.
        var weight = used.map { freqs[$0] }
        var parent = [Int](repeating: -1, count: 2 * used.count - 1)
        var leaf = 0, internalStart = used.count, internalNext = used.count
        func takeSmallest() -> Int {
            if leaf < used.count && (internalStart >= internalNext || weight[leaf] <= weight[internalStart]) {
                leaf += 1; return leaf - 1
            }
            internalStart += 1; return internalStart - 1
        }
        while internalNext < 2 * used.count - 1 {
            let a = takeSmallest(), b = takeSmallest()
            weight.append(weight[a] + weight[b])
            parent[a] = internalNext; parent[b] = internalNext
            internalNext += 1
        }
        var depth = [Int](repeating: 0, count: 2 * used.count - 1)
        for node in stride(from: 2 * used.count - 3, through: 0, by: -1) { depth[node] = depth[parent[node]] + 1 }
        for (k, symbol) in used.enumerated() { result[symbol] = UInt8(depth[k]) }
        return result
    }

    /// Canonical codes (MSB-first) for the lengths.
    static func codes(_ lengths: [UInt8]) -> [Int] {
        var counts = [Int](repeating: 0, count: 17)
        for l in lengths { counts[Int(l)] += 1 }
        counts[0] = 0
        var next = [Int](repeating: 0, count: 17)
        var code = 0
        for len in 1...16 { code = (code + counts[len - 1]) << 1; next[len] = code }
        return lengths.map { l in
            guard l > 0 else { return 0 }
            defer { next[Int(l)] += 1 }
            return next[Int(l)]
        }
    }
}

enum BlockEncoder {
    static func lengthSymbol(_ length: Int) -> (symbol: Int, extra: Int, extraBits: Int) {
        var i = 28
        while Inflater.lengthBase[i] > length { i -= 1 }
        return (257 + i, length - Inflater.lengthBase[i], Inflater.lengthExtra[i])
    }

    static func distanceSymbol(_ distance: Int) -> (symbol: Int, extra: Int, extraBits: Int) {
        var i = 29
        while Inflater.distanceBase[i] > distance { i -= 1 }
        return (i, distance - Inflater.distanceBase[i], Inflater.distanceExtra[i])
    }

    static let fixedLiteralLengths: [UInt8] = (0..<288).map { $0 < 144 ? 8 : $0 < 256 ? 9 : $0 < 280 ? 7 : 8 }
    static let fixedDistanceLengths = [UInt8](repeating: 5, count: 30)

    static func write(_ tokens: ArraySlice<LZToken>, bytes: ArraySlice<UInt8>, isLast: Bool, to w: inout BitWriter) {
        var litFreq = [Int](repeating: 0, count: 286), distFreq = [Int](repeating: 0, count: 30)
        var extraBitCount = 0
        for t in tokens {
            if t.isMatch {
                let l = lengthSymbol(t.length), d = distanceSymbol(t.distance)
                litFreq[l.symbol] += 1; distFreq[d.symbol] += 1
                extraBitCount += l.extraBits + d.extraBits
            } else {
                litFreq[t.literal] += 1
            }
        }
        litFreq[256] += 1
        let litLengths = HuffmanCodeBuilder.lengths(litFreq, limit: 15)
        var distLengths = HuffmanCodeBuilder.lengths(distFreq, limit: 15)
        if distLengths.allSatisfy({ $0 == 0 }) { distLengths[0] = 1 }
        let header = dynamicHeader(litLengths: litLengths, distLengths: distLengths)

        func cost(_ lit: [UInt8], _ dist: [UInt8]) -> Int {
            var c = extraBitCount
            for (s, f) in litFreq.enumerated() { c += f * Int(lit[s]) }
            for (s, f) in distFreq.enumerated() { c += f * Int(dist[s]) }
            return c
        }
        let dynamicBits = 3 + header.bitCount + cost(litLengths, distLengths)
        let fixedBits = 3 + cost(fixedLiteralLengths, fixedDistanceLengths)
        let storedBits = (bytes.count + 65_534) / 65_535 * 40 + 8 * bytes.count + 8

        if storedBits < min(dynamicBits, fixedBits) {
            var chunkStart = bytes.startIndex
            repeat {
                let chunkEnd = min(chunkStart + 65_535, bytes.endIndex)
                w.write(isLast && chunkEnd == bytes.endIndex ? 1 : 0, 1)
                w.write(0, 2)
                w.alignToByte()
                let len = chunkEnd - chunkStart
                w.write(len, 16); w.write(~len & 0xFFFF, 16)
                for b in bytes[chunkStart..<chunkEnd] { w.write(Int(b), 8) }
                chunkStart = chunkEnd
            } while chunkStart < bytes.endIndex
        } else if fixedBits <= dynamicBits {
            w.write(isLast ? 1 : 0, 1); w.write(1, 2)
            writeTokens(tokens, lit: fixedLiteralLengths, dist: fixedDistanceLengths, to: &w)
        } else {
            w.write(isLast ? 1 : 0, 1); w.write(2, 2)
            header.emit(&w)
            writeTokens(tokens, lit: litLengths, dist: distLengths, to: &w)
        }
    }

    static func writeTokens(_ tokens: ArraySlice<LZToken>, lit: [UInt8], dist: [UInt8], to w: inout BitWriter) {
        let litCodes = HuffmanCodeBuilder.codes(lit), distCodes = HuffmanCodeBuilder.codes(dist)
        // Pre-reverse codes once so each symbol is a single write.
        let litRev = zip(litCodes, lit).map { reverse($0, Int($1)) }, distRev = zip(distCodes, dist).map { reverse($0, Int($1)) }
        for t in tokens {
            if t.isMatch {
                let l = lengthSymbol(t.length), d = distanceSymbol(t.distance)
                w.write(litRev[l.symbol], Int(lit[l.symbol])); w.write(l.extra, l.extraBits)
                w.write(distRev[d.symbol], Int(dist[d.symbol])); w.write(d.extra, d.extraBits)
            } else {
                w.write(litRev[t.literal], Int(lit[t.literal]))
            }
        }
        w.write(litRev[256], Int(lit[256]))
    }

    static func reverse(_ code: Int, _ length: Int) -> Int {
        var r = 0
        for b in 0..<length where code & (1 << b) != 0 { r |= 1 << (length - 1 - b) }
        return r
    }

    struct DynamicHeader {
        var hlit: Int, hdist: Int, hclen: Int
        var codeLengthLengths: [UInt8]
        var rle: [(symbol: Int, extra: Int)]
        var bitCount: Int

        func emit(_ w: inout BitWriter) {
            w.write(hlit - 257, 5); w.write(hdist - 1, 5); w.write(hclen - 4, 4)
            for i in 0..<hclen { w.write(Int(codeLengthLengths[Inflater.codeLengthOrder[i]]), 3) }
            let codes = HuffmanCodeBuilder.codes(codeLengthLengths)
            for (symbol, extra) in rle {
                w.writeCode(codes[symbol], Int(codeLengthLengths[symbol]))
                switch symbol {
                case 16: w.write(extra, 2)
                case 17: w.write(extra, 3)
                case 18: w.write(extra, 7)
                default: break
                }
            }
        }
    }

    static func dynamicHeader(litLengths: [UInt8], distLengths: [UInt8]) -> DynamicHeader {
        var hlit = 286
        while hlit > 257 && litLengths[hlit - 1] == 0 { hlit -= 1 }
        var hdist = 30
        while hdist > 1 && distLengths[hdist - 1] == 0 { hdist -= 1 }
        let all = Array(litLengths[0..<hlit]) + Array(distLengths[0..<hdist])
        // Run-length encode the code lengths with symbols 16 (repeat previous), 17/18 (zeros).
        var rle: [(symbol: Int, extra: Int)] = []
        var i = 0
        while i < all.count {
            let v = all[i]
            var run = 1
            while i + run < all.count && all[i + run] == v { run += 1 }
            if v == 0 && run >= 3 {
                let r = min(run, 138)
                rle.append(r >= 11 ? (18, r - 11) : (17, r - 3))
                i += r
            } else if v != 0 && run >= 4 {
                rle.append((Int(v), 0))
                let r = min(run - 1, 6)
                rle.append((16, r - 3))
                i += 1 + r
            } else {
                rle.append((Int(v), 0))
                i += 1
            }
        }
        var freq = [Int](repeating: 0, count: 19)
        for (s, _) in rle { freq[s] += 1 }
        let clLengths = HuffmanCodeBuilder.lengths(freq, limit: 7)
        var hclen = 19
        while hclen > 4 && clLengths[Inflater.codeLengthOrder[hclen - 1]] == 0 { hclen -= 1 }
        var bits = 14 + 3 * hclen
        for (s, _) in rle { bits += Int(clLengths[s]) + (s == 16 ? 2 : s == 17 ? 3 : s == 18 ? 7 : 0) }
        return DynamicHeader(hlit: hlit, hdist: hdist, hclen: hclen, codeLengthLengths: clLengths, rle: rle, bitCount: bits)
    }
}
