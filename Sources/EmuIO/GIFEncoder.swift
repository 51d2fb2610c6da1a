/// GIF encoding: GIF89a, one local palette per frame (median cut to <= 256 colours; exact when a
/// frame has few enough colours), per-frame delays, NETSCAPE2.0 loop extension.
extension GIF {
    /// Encodes equal-sized frames. `delaysCentiseconds` has one entry per frame (or one for all).
    public static func encode(_ frames: [RGBImage], delaysCentiseconds: [Int], loopCount: Int = 0) throws -> [UInt8] {
        guard let first = frames.first else { throw MediaError(.inconsistentFrames, "GIF", "no frames to write") }
        guard first.width <= 0xFFFF, first.height <= 0xFFFF, first.width > 0, first.height > 0 else {
            throw MediaError(.unsupported, "GIF", "size \(first.width)x\(first.height) outside 1...65535")
        }
        for (i, f) in frames.enumerated() where f.width != first.width || f.height != first.height {
            throw MediaError(.inconsistentFrames, "GIF", "frame \(i) is \(f.width)x\(f.height), frame 0 is \(first.width)x\(first.height)")
        }
        guard delaysCentiseconds.count == frames.count || delaysCentiseconds.count == 1 else {
            throw MediaError(.inconsistentFrames, "GIF", "\(delaysCentiseconds.count) delays for \(frames.count) frames")
        }
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        var out = Array("GIF89a".utf8)
        out += le16(first.width) + le16(first.height) + [0x70, 0, 0]  // no global table, 8-bit colour resolution
        if frames.count > 1 {
            out += [0x21, 0xFF, 11] + Array("NETSCAPE2.0".utf8) + [3, 1] + le16(max(0, min(loopCount, 0xFFFF))) + [0]
        }
        for (i, frame) in frames.enumerated() {
            let q = ColorQuantizer.quantize(frame)
            let entries = q.palette.count / 3
            var bits = 1
            while (1 << bits) < entries { bits += 1 }
            let delay = max(0, min(delaysCentiseconds.count == 1 ? delaysCentiseconds[0] : delaysCentiseconds[i], 0xFFFF))
            out += [0x21, 0xF9, 4, 0x04] + le16(delay) + [0, 0]          // disposal 1: keep, no transparency
            out += [0x2C] + le16(0) + le16(0) + le16(frame.width) + le16(frame.height) + [0x80 | UInt8(bits - 1)]
            out += q.palette + [UInt8](repeating: 0, count: 3 * ((1 << bits) - entries))
            let minCodeSize = max(2, bits)
            out.append(UInt8(minCodeSize))
            let lzw = GIFLZW.encode(q.indices, minCodeSize: minCodeSize)
            var start = 0
            while start < lzw.count {
                let n = min(255, lzw.count - start)
                out.append(UInt8(n))
                out += lzw[start..<(start + n)]
                start += n
            }
            out.append(0)
        }
        out.append(0x3B)
        return out
    }
}
