import Foundation
import XCTest
@testable import EmuIO

final class GIFTests: XCTestCase {
    /// Every frame of every GIF fixture equals Pillow's `seek(i); convert("RGB")` exactly
    /// (Pillow's encoder writes later frames as cropped sub-rectangles, so compositing is tested).
    func testDecodeMatchesPillowExactly() throws {
        let fixtures = try MediaFixture.all().filter { $0.kind == "gif" }
        XCTAssertGreaterThanOrEqual(fixtures.count, 3)
        for f in fixtures {
            let animation = try GIF.decode(try f.bytes)
            let expected = try f.expectedFrames()
            XCTAssertEqual(animation.frames.count, expected.count, f.file)
            for (i, (frame, want)) in zip(animation.frames, expected).enumerated() {
                XCTAssertEqual(frame.pixels, want.pixels, "\(f.file) frame \(i): max diff \(pixelDifference(frame, want).max)")
            }
        }
        let anim = try GIF.decode(try MediaFixture.all().first { $0.file == "gif_anim.gif" }!.bytes)
        XCTAssertEqual(anim.delaysCentiseconds, [5, 8, 8, 12])
        XCTAssertEqual(anim.loopCount, 0)
    }

    /// Frames with <= 256 colours survive exactly; a photo-like frame with thousands of colours
    /// comes back within median-cut quantization error.
    func testEncodeDecodeRoundTrip() throws {
        var rng = SplitMix64(state: 11)
        let w = 40, h = 30
        var frames: [RGBImage] = []
        for t in 0..<3 {
            var f = RGBImage(width: w, height: h)
            for y in 0..<h { for x in 0..<w { f[x, y] = (UInt8((x * 6 + t * 20) & 0xE0), UInt8((y * 8) & 0xE0), UInt8(t * 60)) } }
            frames.append(f)
        }
        let bytes = try GIF.encode(frames, delaysCentiseconds: [7, 9, 11], loopCount: 0)
        let decoded = try GIF.decode(bytes)
        XCTAssertEqual(decoded.frames, frames)
        XCTAssertEqual(decoded.delaysCentiseconds, [7, 9, 11])
        XCTAssertEqual(decoded.loopCount, 0)

        let photo = RGBImage(width: 64, height: 48, pixels: (0..<(64 * 48 * 3)).map { i in
            let p = i / 3, c = i % 3, x = p % 64, y = p / 64
            return UInt8(clamping: [x * 4, y * 5, (x + y) * 2][c] + Int.random(in: -8...8, using: &rng))
        })
        let back = try GIF.decode(try GIF.encode([photo], delaysCentiseconds: [10])).frames[0]
        let d = pixelDifference(back, photo)
        // The +-8 noise alone puts ~2400 distinct colours in a small region; 256 boxes leave an
        // error below the noise amplitude.
        XCTAssertLessThan(d.mean, 5.0, "median-cut error: mean \(d.mean), max \(d.max)")
        XCTAssertLessThan(d.max, 32)
        // A smooth gradient (3072 colours): Pillow's own median cut (quantize(256, method=0, no
        // dither)) gives mean 3.41 / max 16 here; ours must be at least as good.
        let smooth = RGBImage(width: 64, height: 48, pixels: (0..<(64 * 48 * 3)).map { i in
            let p = i / 3, c = i % 3, x = p % 64, y = p / 64
            return UInt8([x * 4, y * 5, (x + y) * 2][c])
        })
        let smoothBack = try GIF.decode(try GIF.encode([smooth], delaysCentiseconds: [10])).frames[0]
        let s = pixelDifference(smoothBack, smooth)
        XCTAssertLessThan(s.mean, 3.41, "smooth gradient: mean \(s.mean), max \(s.max)")
        XCTAssertLessThanOrEqual(s.max, 16)
    }

    /// LZW round trip long enough to fill the 4096-entry table several times (clear codes).
    func testLZWRoundTripAcrossTableResets() throws {
        var rng = SplitMix64(state: 5)
        for (bits, count) in [(2, 1), (2, 50_000), (8, 100_000), (4, 30_000)] {
            let indices = (0..<count).map { i in UInt8(i % 7 == 0 ? Int.random(in: 0..<(1 << bits), using: &rng) : (i / 5) % (1 << bits)) }
            let encoded = GIFLZW.encode(indices, minCodeSize: bits)
            XCTAssertEqual(try GIFLZW.decode(encoded, minCodeSize: bits, pixelCount: count), indices, "bits \(bits)")
        }
    }

    func testMismatchedFrameSizesThrow() {
        let frames = [RGBImage(width: 4, height: 4), RGBImage(width: 5, height: 4)]
        XCTAssertThrowsError(try GIF.encode(frames, delaysCentiseconds: [10])) {
            XCTAssertEqual(($0 as? MediaError)?.reason, .inconsistentFrames)
        }
    }
}
