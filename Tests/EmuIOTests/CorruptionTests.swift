import Foundation
import XCTest
@testable import EmuIO

/// Damaged files must give a `MediaError` or an image, never a trap: random truncations and byte
/// flips of every fixture format (a trap would abort the whole test process).
final class CorruptionTests: XCTestCase {
    func testTruncationsAndByteFlipsNeverTrap() throws {
        var rng = SplitMix64(state: 2024)
        let fixtures = try MediaFixture.all()
        var errors = 0, images = 0
        let picks = ["png_rgb8.png", "png_interlaced_palette4.png", "png_grey16.png", "png_pil_rgb.png",
                     "jpeg_37x23_q50_420_base.jpg", "jpeg_37x23_q95_444_prog.jpg", "jpeg_45x33_restart_prog.jpg",
                     "jpeg_45x33_grey.jpg", "gif_anim.gif", "gif_interlaced.gif"]
        for name in picks {
            let original = try fixtures.first { $0.file == name }!.bytes
            var variants: [[UInt8]] = []
            for _ in 0..<60 { variants.append(Array(original[0..<Int.random(in: 0..<original.count, using: &rng)])) }
            for _ in 0..<150 {
                var v = original
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    v[Int.random(in: 0..<v.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                }
                variants.append(v)
            }
            for v in variants {
                do {
                    let image = try ImageFile.decode(v)
                    XCTAssertEqual(image.pixels.count, image.width * image.height * 3)
                    images += 1
                } catch is MediaError {
                    errors += 1
                }
            }
        }
        print("corruption: \(errors) errors, \(images) images")
        XCTAssertGreaterThan(errors, 0)
    }
}
