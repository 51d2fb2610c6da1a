import Foundation
import XCTest
@testable import EmuIO

final class PNGTests: XCTestCase {
    /// Every PNG fixture decodes to exactly Pillow's convert("RGB") pixels.
    func testDecodeMatchesPillowExactly() throws {
        let fixtures = try MediaFixture.all().filter { $0.kind == "png" }
        XCTAssertGreaterThan(fixtures.count, 20)
        for f in fixtures {
            let image = try PNG.decode(try f.bytes)
            let expected = try f.expectedFrames()[0]
            XCTAssertEqual(image.width, f.width, f.file)
            XCTAssertEqual(image.height, f.height, f.file)
            XCTAssertEqual(image.pixels, expected.pixels, "\(f.file) (Pillow mode \(f.mode)) differs: max \(pixelDifference(image, expected).max)")
        }
    }

    func testEncodeDecodeRoundTripIsExact() throws {
        var rng = SplitMix64(state: 3)
        for (w, h) in [(1, 1), (7, 5), (64, 33)] {
            let noise = RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { _ in UInt8.random(in: 0...255, using: &rng) })
            XCTAssertEqual(try PNG.decode(PNG.encode(noise)), noise)
            var smooth = RGBImage(width: w, height: h)
            for y in 0..<h { for x in 0..<w { smooth[x, y] = (UInt8(x * 3 & 255), UInt8(y * 5 & 255), UInt8((x + y) & 255)) } }
            XCTAssertEqual(try PNG.decode(PNG.encode(smooth)), smooth)
        }
        // RGBA: the decoder drops alpha as Pillow does.
        let rgba: [UInt8] = [10, 20, 30, 0, 40, 50, 60, 255]
        let decoded = try PNG.decode(PNG.encode(width: 2, height: 1, channels: 4, samples: rgba))
        XCTAssertEqual(decoded.pixels, [10, 20, 30, 40, 50, 60])
    }

    func testBadCRCIsReported() throws {
        var bytes = try MediaFixture.all().first { $0.file == "png_rgb8.png" }!.bytes
        bytes[20] ^= 0x40  // inside IHDR's width
        XCTAssertThrowsError(try PNG.decode(bytes)) { error in
            XCTAssertEqual((error as? MediaError)?.reason, .checksumMismatch)
        }
    }
}
