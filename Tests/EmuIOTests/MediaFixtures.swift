import Foundation
@testable import EmuIO

/// The fixtures made by scripts/reference/make_media_fixtures.py: each file with the pixels
/// Pillow's `convert("RGB")` gives for it.
struct MediaFixture: Decodable {
    let file: String
    let expected: String
    let kind: String
    let width: Int
    let height: Int
    let frames: Int
    let mode: String
    let tolerance: Double

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent("media")

    static func all() throws -> [MediaFixture] {
        let data = try Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        return try JSONDecoder().decode([MediaFixture].self, from: data)
    }

    var url: URL { Self.directory.appendingPathComponent(file) }
    var bytes: [UInt8] { get throws { [UInt8](try Data(contentsOf: url)) } }

    /// Pillow's frames.
    func expectedFrames() throws -> [RGBImage] {
        let raw = [UInt8](try Data(contentsOf: Self.directory.appendingPathComponent(expected)))
        let n = width * height * 3
        precondition(raw.count == n * frames, "\(expected): \(raw.count) bytes")
        return (0..<frames).map { RGBImage(width: width, height: height, pixels: Array(raw[($0 * n)..<(($0 + 1) * n)])) }
    }
}

/// Mean and maximum absolute difference over all channels.
func pixelDifference(_ a: RGBImage, _ b: RGBImage) -> (mean: Double, max: Int) {
    var sum = 0, worst = 0
    for (x, y) in zip(a.pixels, b.pixels) {
        let d = abs(Int(x) - Int(y))
        sum += d
        worst = max(worst, d)
    }
    return (Double(sum) / Double(max(1, a.pixels.count)), worst)
}

/// A deterministic generator so test inputs are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
