import EmuIO
import EmuTensor
import Foundation
import XCTest
@testable import Emu3

/// `ImageProcessor` against transformers' `Emu3ImageProcessor` and Pillow's bicubic resize
/// (scripts/reference/make_vq_fixtures.py).
final class VisionImageProcessorTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/vq")

    func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func image(_ t: Tensor) -> RGBImage {
        RGBImage(width: t.shape[1], height: t.shape[0], pixels: t.toIntArray().map { UInt8($0) })
    }

    func testSmartResizeMatchesReference() throws {
        let cases = try XCTUnwrap(json("resize.json")["smart_resize"] as? [[String: Int]])
        XCTAssertFalse(cases.isEmpty)
        for c in cases {
            let (h, w) = try ImageProcessor.smartResize(height: c["height"]!, width: c["width"]!, factor: c["factor"]!,
                                                        minPixels: c["min_pixels"]!, maxPixels: c["max_pixels"]!)
            XCTAssertEqual([h, w], [c["resized_height"]!, c["resized_width"]!], "\(c)")
        }
    }

    /// Mean absolute difference under 0.5 of a level against Pillow (up- and downscaling,
    /// noise and smooth images); the implementation follows Pillow's fixed-point arithmetic, so
    /// the difference is expected to be zero.
    func testBicubicResizeMatchesPillow() throws {
        let cases = try XCTUnwrap(json("resize.json")["resize"] as? [[String: Int]])
        let file = try SafetensorsFile(path: Self.fixtures.appendingPathComponent("resize.safetensors").path)
        for c in cases {
            let i = c["index"]!
            let input = Self.image(try file.tensor(named: "input_\(i)"))
            let want = Self.image(try file.tensor(named: "output_\(i)"))
            let processor = ImageProcessor(minPixels: c["min_pixels"]!, maxPixels: c["max_pixels"]!, spatialFactor: 8)
            let got = try processor.resized(input)
            XCTAssertEqual([got.width, got.height], [want.width, want.height], "case \(i)")
            let diffs = zip(got.pixels, want.pixels).map { abs(Int($0) - Int($1)) }
            let mean = Double(diffs.reduce(0, +)) / Double(diffs.count)
            print("resize case \(i) \(input.width)x\(input.height) -> \(got.width)x\(got.height): mean |diff| \(mean), max \(diffs.max() ?? 0)")
            XCTAssertLessThan(mean, 0.5, "case \(i)")
        }
    }

    func testNormalizationAndPostprocessMatchReference() throws {
        let processor = try ImageProcessor.load(directory: Self.fixtures.path, spatialFactor: 8)
        XCTAssertEqual(processor.minPixels, 256)
        let inputs = try SafetensorsFile(path: Self.fixtures.appendingPathComponent("inputs.safetensors").path)
        let image = Self.image(try inputs.tensor(named: "image_u8"))
        let values = try processor.preprocess(image)  // 40x56 is already a valid size: no resize
        let want = try inputs.tensor(named: "image_pixel_values")
        XCTAssertEqual(values.shape, want.shape)
        XCTAssertEqual(values.toArray(), want.toArray())

        let expected = try SafetensorsFile(path: Self.fixtures.appendingPathComponent("widths/expected.safetensors").path)
        let decoded = try expected.tensor(named: "decoded_image")
        let pixels = processor.postprocess(decoded)
        XCTAssertEqual(pixels, Self.image(try expected.tensor(named: "decoded_image_u8")))
    }
}
