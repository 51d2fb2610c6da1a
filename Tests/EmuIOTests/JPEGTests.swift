import Foundation
import XCTest
@testable import EmuIO

final class JPEGTests: XCTestCase {
    /// Every JPEG fixture (baseline/progressive, q50/q95, 4:4:4/4:2:2/4:2:0, odd sizes, restart
    /// intervals, greyscale) decodes within the stated tolerance of Pillow (libjpeg-turbo):
    /// mean absolute difference < 1 level (in practice the decoder is designed to be exact).
    func testDecodeMatchesPillow() throws {
        let fixtures = try MediaFixture.all().filter { $0.kind == "jpeg" }
        XCTAssertGreaterThan(fixtures.count, 20)
        var worstMean = 0.0, worstMax = 0, exact = 0
        for f in fixtures {
            let image = try JPEG.decode(try f.bytes)
            let expected = try f.expectedFrames()[0]
            XCTAssertEqual(image.width, f.width, f.file)
            XCTAssertEqual(image.height, f.height, f.file)
            guard image.pixels.count == expected.pixels.count else { continue }
            let d = pixelDifference(image, expected)
            XCTAssertLessThan(d.mean, f.tolerance, "\(f.file): mean |diff| \(d.mean), max \(d.max)")
            XCTAssertLessThanOrEqual(d.max, 2, f.file)
            worstMean = max(worstMean, d.mean)
            worstMax = max(worstMax, d.max)
            if d.max == 0 { exact += 1 }
            if d.max > 0 { print("JPEG \(f.file): mean \(d.mean) max \(d.max)") }
        }
        print("JPEG parity vs Pillow: \(exact)/\(fixtures.count) exact, worst mean \(worstMean), worst max \(worstMax)")
    }

    func testUnsupportedAndCorruptInputsThrow() throws {
        // A 4-component (CMYK) frame header: SOI, SOF0 with 4 components.
        let cmyk: [UInt8] = [0xFF, 0xD8, 0xFF, 0xC0, 0, 20, 8, 0, 8, 0, 8, 4, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0, 4, 0x11, 0, 0xFF, 0xD9]
        XCTAssertThrowsError(try JPEG.decode(cmyk)) { XCTAssertEqual(($0 as? MediaError)?.reason, .unsupported) }
        let bytes = try MediaFixture.all().first { $0.kind == "jpeg" }!.bytes
        XCTAssertThrowsError(try JPEG.decode(Array(bytes[0..<(bytes.count / 2)]))) {
            XCTAssertEqual(($0 as? MediaError)?.reason, .truncated)
        }
    }
}
