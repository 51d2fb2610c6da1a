/// An animated (or still) GIF: full-canvas RGB frames and their delays.
public struct GIFAnimation: Sendable, Equatable {
    public var frames: [RGBImage]
    /// Per-frame delay in hundredths of a second (0 when the file gives none).
    public var delaysCentiseconds: [Int]
    /// NETSCAPE2.0 loop count (0 = forever), nil when the file has no loop extension.
    public var loopCount: Int?

    public init(frames: [RGBImage], delaysCentiseconds: [Int], loopCount: Int? = 0) {
        self.frames = frames
        self.delaysCentiseconds = delaysCentiseconds
        self.loopCount = loopCount
    }
}

/// GIF decoding: LZW, global/local palettes, interlacing, transparency and disposal methods,
/// every frame composited onto the full canvas exactly as Pillow shows it after `convert("RGB")`
/// (its RGB_AFTER_FIRST loading: frame 0 keeps transparent pixels at their palette colour; later
/// frames leave the canvas visible under transparent pixels; a disposal method stays in force
/// until a later frame names another).
public enum GIF {
    public static let maxPixels = 1 << 28

    public static func isGIF(_ data: [UInt8]) -> Bool {
        data.count >= 6 && (Array(data[0..<6]) == Array("GIF87a".utf8) || Array(data[0..<6]) == Array("GIF89a".utf8))
    }

    public static func decode(_ data: [UInt8]) throws -> GIFAnimation {
        guard isGIF(data) else { throw MediaError(.notAnImage, "GIF", "missing GIF87a/GIF89a signature") }
        guard data.count >= 13 else { throw MediaError(.truncated, "GIF", "logical screen descriptor cut off") }
        var reader = GIFReader(data: data, position: 13)
        let width = Int(data[6]) | Int(data[7]) << 8, height = Int(data[8]) | Int(data[9]) << 8
        guard width > 0, height > 0 else { throw MediaError(.corrupt, "GIF", "canvas size \(width)x\(height)") }
        guard width * height <= maxPixels else { throw MediaError(.unsupported, "GIF", "\(width)x\(height) too large") }
        let flags = data[10], background = Int(data[11])
        var globalPalette: [UInt8]?
        if flags & 0x80 != 0 { globalPalette = try reader.bytes(3 << (Int(flags & 7) + 1), "global colour table") }

        var animation = GIFAnimation(frames: [], delaysCentiseconds: [], loopCount: nil)
        var canvas = [UInt8](repeating: 0, count: width * height * 3)
        var pendingDisposal: (rect: GIFRect, fill: [UInt8]?, saved: [UInt8]?)?
        var disposalMethod = 0
        var transparency: Int?, delay = 0

        while reader.position < data.count {
            let introducer = data[reader.position]
            reader.position += 1
            switch introducer {
            case 0x21:
                let label = try reader.byte("extension label")
                let first = try reader.subBlock()
                if label == 0xF9, let g = first, g.count >= 4 {
                    if g[0] & 1 != 0 { transparency = Int(g[3]) }
                    delay = Int(g[1]) | Int(g[2]) << 8
                    let method = Int(g[0] >> 2) & 7
                    if method != 0 { disposalMethod = method }
                } else if label == 0xFF, let a = first, a.count >= 11, Array(a[0..<11]) == Array("NETSCAPE2.0".utf8) {
                    if let b = try reader.subBlock(), b.count >= 3, b[0] == 1 {
                        animation.loopCount = Int(b[1]) | Int(b[2]) << 8
                    } else { continue }
                }
                if first != nil { while try reader.subBlock() != nil {} }
            case 0x2C:
                let d = try reader.bytes(9, "image descriptor")
                let rect = GIFRect(x: Int(d[0]) | Int(d[1]) << 8, y: Int(d[2]) | Int(d[3]) << 8,
                                   width: Int(d[4]) | Int(d[5]) << 8, height: Int(d[6]) | Int(d[7]) << 8)
                guard rect.width * rect.height <= maxPixels else { throw MediaError(.unsupported, "GIF", "frame \(rect.width)x\(rect.height) too large") }
                let interlaced = d[8] & 0x40 != 0
                var palette = globalPalette
                if d[8] & 0x80 != 0 { palette = try reader.bytes(3 << (Int(d[8] & 7) + 1), "local colour table") }
                let minCodeSize = Int(try reader.byte("LZW code size"))
                guard (1...11).contains(minCodeSize) else { throw MediaError(.corrupt, "GIF", "LZW code size \(minCodeSize)") }
                var compressed = [UInt8]()
                while let block = try reader.subBlock() { compressed.append(contentsOf: block) }
                let indices = try GIFLZW.decode(compressed, minCodeSize: minCodeSize, pixelCount: rect.width * rect.height)

                let n = animation.frames.count
                /// RGB of a palette index (a frame without any palette shows indices as grey).
                func color(_ index: Int) -> (UInt8, UInt8, UInt8) {
                    guard let p = palette else { return (UInt8(index), UInt8(index), UInt8(index)) }
                    let i = 3 * index + 3 <= p.count ? index : 0
                    return (p[3 * i], p[3 * i + 1], p[3 * i + 2])
                }
                if let pending = pendingDisposal { apply(pending, to: &canvas, width: width, height: height) }
                pendingDisposal = nil
                if n == 0 {
                    let c = color(transparency ?? 0)
                    for i in 0..<(width * height) { canvas[3 * i] = c.0; canvas[3 * i + 1] = c.1; canvas[3 * i + 2] = c.2 }
                }
                let clipped = rect.clipped(width: width, height: height)
                if disposalMethod == 2 {
                    let c = color(transparency ?? background)
                    pendingDisposal = (clipped, [c.0, c.1, c.2], nil)
                } else if disposalMethod == 3 {
                    if n > 0 {
                        pendingDisposal = (clipped, nil, save(clipped, canvas, width: width))
                    } else if let t = transparency {
                        let c = color(t)
                        pendingDisposal = (clipped, [c.0, c.1, c.2], nil)
                    }
                }
                // Draw the frame.
                let rows = interlaced ? interlacedRowOrder(rect.height) : Array(0..<rect.height)
                for (k, row) in rows.enumerated() {
                    let y = rect.y + row
                    guard y < height else { continue }
                    for col in 0..<rect.width {
                        let x = rect.x + col
                        guard x < width else { break }
                        let index = Int(indices[k * rect.width + col])
                        if n > 0 && index == transparency { continue }
                        let c = color(index), o = (y * width + x) * 3
                        canvas[o] = c.0; canvas[o + 1] = c.1; canvas[o + 2] = c.2
                    }
                }
                animation.frames.append(RGBImage(width: width, height: height, pixels: canvas))
                animation.delaysCentiseconds.append(delay)
                transparency = nil
                delay = 0
            case 0x3B:
                reader.position = data.count
            default:
                if animation.frames.isEmpty { throw MediaError(.corrupt, "GIF", "unknown block 0x\(String(introducer, radix: 16)) at byte \(reader.position - 1)") }
                reader.position = data.count  // trailing garbage after complete frames: stop, as Pillow does
            }
        }
        guard !animation.frames.isEmpty else { throw MediaError(.truncated, "GIF", "no image in the file") }
        return animation
    }

    static func interlacedRowOrder(_ height: Int) -> [Int] {
        Array(stride(from: 0, to: height, by: 8)) + Array(stride(from: 4, to: height, by: 8)) +
            Array(stride(from: 2, to: height, by: 4)) + Array(stride(from: 1, to: height, by: 2))
    }

    static func save(_ r: GIFRect, _ canvas: [UInt8], width: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(r.width * r.height * 3)
        for y in r.y..<(r.y + r.height) { out.append(contentsOf: canvas[((y * width + r.x) * 3)..<((y * width + r.x + r.width) * 3)]) }
        return out
    }

    static func apply(_ d: (rect: GIFRect, fill: [UInt8]?, saved: [UInt8]?), to canvas: inout [UInt8], width: Int, height: Int) {
        let r = d.rect
        for y in r.y..<(r.y + r.height) {
            for x in r.x..<(r.x + r.width) {
                let o = (y * width + x) * 3
                if let f = d.fill {
                    canvas[o] = f[0]; canvas[o + 1] = f[1]; canvas[o + 2] = f[2]
                } else if let s = d.saved {
                    let i = ((y - r.y) * r.width + (x - r.x)) * 3
                    canvas[o] = s[i]; canvas[o + 1] = s[i + 1]; canvas[o + 2] = s[i + 2]
                }
            }
        }
    }
}

struct GIFRect {
    var x: Int, y: Int, width: Int, height: Int
    func clipped(width w: Int, height h: Int) -> GIFRect {
        let x0 = min(x, w), y0 = min(y, h)
        return GIFRect(x: x0, y: y0, width: min(x + width, w) - x0, height: min(y + height, h) - y0)
    }
}

/// Bounds-checked reading of GIF blocks.
struct GIFReader {
    let data: [UInt8]
    var position: Int

    mutating func byte(_ what: String) throws -> UInt8 {
        guard position < data.count else { throw MediaError(.truncated, "GIF", "\(what) cut off at byte \(position)") }
        position += 1
        return data[position - 1]
    }

    mutating func bytes(_ n: Int, _ what: String) throws -> [UInt8] {
        guard position + n <= data.count else { throw MediaError(.truncated, "GIF", "\(what) cut off at byte \(position)") }
        position += n
        return Array(data[(position - n)..<position])
    }

    /// The next data sub-block, nil at the terminator.
    mutating func subBlock() throws -> [UInt8]? {
        let n = Int(try byte("sub-block size"))
        return n == 0 ? nil : try bytes(n, "data sub-block")
    }
}
