/// GIF's variable-width LZW (codes LSB-first, 12-bit maximum, clear and end codes).
enum GIFLZW {
    /// Decodes up to `pixelCount` indices; a stream that stops early leaves the rest 0.
    static func decode(_ data: [UInt8], minCodeSize: Int, pixelCount: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: pixelCount)
        let clear = 1 << minCodeSize, end = clear + 1
        var prefix = [Int](repeating: 0, count: 4096)
        var suffix = [UInt8](repeating: 0, count: 4096)
        var length = [Int](repeating: 0, count: 4096)
        for i in 0..<clear { suffix[i] = UInt8(truncatingIfNeeded: i); length[i] = 1 }
        var codeSize = minCodeSize + 1, next = clear + 2
        var previous = -1
        var bitBuffer = 0, bitCount = 0, position = 0, written = 0
        while written < pixelCount {
            while bitCount < codeSize {
                guard position < data.count else { return out }  // data ended: keep what we have
                bitBuffer |= Int(data[position]) << bitCount
                position += 1
                bitCount += 8
            }
            let code = bitBuffer & ((1 << codeSize) - 1)
            bitBuffer >>= codeSize
            bitCount -= codeSize
            if code == clear {
                codeSize = minCodeSize + 1; next = clear + 2; previous = -1
                continue
            }
            if code == end { break }
            var entry: Int
            if code < next && (code < clear || code > end) {
                entry = code
            } else if code == next && previous >= 0 {
                entry = previous  // KwKwK: previous string + its own first byte
            } else {
                throw MediaError(.corrupt, "GIF", "LZW code \(code) not yet defined (next \(next))")
            }
            // Emit the string for `entry` (plus the first byte again in the KwKwK case).
            let n = length[entry]
            let total = code == next ? n + 1 : n
            var firstByte: UInt8 = 0
            var e = entry, k = n - 1
            while k >= 0 {
                if written + k < pixelCount { out[written + k] = suffix[e] }
                if k == 0 { firstByte = suffix[e] }
                e = prefix[e]
                k -= 1
            }
            if code == next, written + n < pixelCount { out[written + n] = firstByte }
            written += total
            if previous >= 0 && next < 4096 {
                prefix[next] = previous
                suffix[next] = firstByte
                length[next] = length[previous] + 1
                next += 1
                if next == (1 << codeSize) && codeSize < 12 { codeSize += 1 }
            }
            previous = code
        }
        return out
    }

    /// Encodes indices (< 2^minCodeSize) into GIF LZW data (before sub-block framing).
    static func encode(_ indices: [UInt8], minCodeSize: Int) -> [UInt8] {
        let clear = 1 << minCodeSize, end = clear + 1
        var out = [UInt8]()
        var bitBuffer = 0, bitCount = 0
        var codeSize = minCodeSize + 1, next = clear + 2
        func emit(_ code: Int) {
            bitBuffer |= code << bitCount
            bitCount += codeSize
            while bitCount >= 8 { out.append(UInt8(bitBuffer & 0xFF)); bitBuffer >>= 8; bitCount -= 8 }
        }
        // Open-addressed table keyed by (prefix code, byte); `generation` invalidates it on clear.
        let tableSize = 1 << 14
        var keys = [Int32](repeating: -1, count: tableSize), codes = [Int16](repeating: 0, count: tableSize)
        emit(clear)
        guard let first = indices.first else { emit(end); if bitCount > 0 { out.append(UInt8(bitBuffer & 0xFF)) }; return out }
        var current = Int(first)
        for byte in indices.dropFirst() {
            let key = Int32(current << 8 | Int(byte))
            var slot = Int((UInt32(bitPattern: key) &* 2_654_435_761) >> 18) & (tableSize - 1)
            var found = -1
            while keys[slot] != -1 {
                if keys[slot] == key { found = Int(codes[slot]); break }
                slot = (slot + 1) & (tableSize - 1)
            }
            if found >= 0 { current = found; continue }
            emit(current)
            if next < 4096 {
                keys[slot] = key
                codes[slot] = Int16(next)
                next += 1
                if next > (1 << codeSize) && codeSize < 12 { codeSize += 1 }
            } else {
                emit(clear)
                for i in 0..<tableSize { keys[i] = -1 }
                codeSize = minCodeSize + 1
                next = clear + 2
            }
            current = Int(byte)
        }
        emit(current)
        emit(end)
        if bitCount > 0 { out.append(UInt8(bitBuffer & 0xFF)) }
        return out
    }
}
