import Foundation
import XCTest
@testable import EmuIO

final class DeflateTests: XCTestCase {
    /// Inputs from incompressible to highly repetitive, including the empty and one-byte cases.
    func testRoundTripOnRandomAndStructuredData() throws {
        var rng = SplitMix64(state: 7)
        var inputs: [[UInt8]] = [[], [42], Array(repeating: 0, count: 100_000)]
        inputs.append((0..<70_000).map { _ in UInt8.random(in: 0...255, using: &rng) })
        inputs.append((0..<50_000).map { _ in UInt8.random(in: 0...3, using: &rng) })
        inputs.append((0..<200_000).map { i in UInt8((i / 7 + (i % 13)) & 0xFF) })
        let words = Array("the quick brown fox jumps over the lazy dog ".utf8)
        inputs.append((0..<80_000).map { i in words[(i * 7 / 5) % words.count] })
        for input in inputs {
            for effort in [1, 48] {
                let z = Deflate.zlibCompress(input, effort: effort)
                XCTAssertEqual(try Inflate.zlibDecompress(z), input, "size \(input.count) effort \(effort)")
            }
        }
        // Compression really happens on redundant data, and random data stays near its size.
        XCTAssertLessThan(Deflate.zlibCompress(inputs[2]).count, 1_000)
        XCTAssertLessThan(Deflate.zlibCompress(inputs[3]).count, 70_000 + 100)
        XCTAssertLessThan(Deflate.zlibCompress(inputs[4]).count, 50_000 / 3)
    }

    /// zlib streams made by Python's zlib inside Pillow's PNG fixtures decode with valid checksums
    /// (covered by the PNG tests); here: a corrupted checksum and truncations are typed errors.
    func testCorruptStreamsThrow() {
        let input = Array("hello hello hello hello world".utf8)
        var z = Deflate.zlibCompress(input)
        z[z.count - 1] ^= 1
        XCTAssertThrowsError(try Inflate.zlibDecompress(z)) { error in
            XCTAssertEqual((error as? MediaError)?.reason, .checksumMismatch)
        }
        z[z.count - 1] ^= 1
        for cut in 0..<(z.count - 1) {
            XCTAssertThrowsError(try Inflate.zlibDecompress(Array(z[0..<cut])), "cut at \(cut)")
        }
    }
}
