import EmuIO
import EmuTensor
import Foundation
import XCTest
@testable import Emu3

/// Parity of the vision tokenizer with transformers' `Emu3VQVAE` on two random-weight configs
/// (scripts/reference/make_vq_fixtures.py): encoded codes equal except at exact near-ties (counted,
/// expected zero), decoded pixels within 1e-4 relative L2 given the same codes.
final class VisionTokenizerTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/vq")
    static let configs = ["widths", "attention"]

    /// A distance margin below which the reference's own float32 rounding could pick either code.
    static let nearTieMargin: Float = 1e-6

    func expected(_ config: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: Self.fixtures.appendingPathComponent("\(config)/expected.safetensors").path)
    }

    func inputs() throws -> SafetensorsFile {
        try SafetensorsFile(path: Self.fixtures.appendingPathComponent("inputs.safetensors").path)
    }

    func tokenizer(_ config: String) throws -> VisionTokenizer {
        try VisionTokenizer(directory: Self.fixtures.appendingPathComponent(config).path)
    }

    static func relativeL2(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        var num: Double = 0, den: Double = 0
        for (x, y) in zip(a, b) { num += Double(x - y) * Double(x - y); den += Double(y) * Double(y) }
        return Float((num / max(den, 1e-30)).squareRoot())
    }

    /// Codes equal the reference's except where the reference's best and second-best distances
    /// are within `nearTieMargin`; returns the number of such near-ties.
    func assertCodesMatch(_ codes: VisionCodes, expected: Tensor, margins: Tensor, label: String) -> Int {
        XCTAssertEqual([codes.frames, codes.height, codes.width].suffix(expected.rank), expected.shape.suffix(3).map { $0 },
                       "\(label): grid shape")
        let want = expected.toIntArray(), gaps = margins.toArray()
        var nearTies = 0, mismatches = 0
        for i in want.indices where codes.values[i] != want[i] {
            if gaps[i] < Self.nearTieMargin { nearTies += 1 } else { mismatches += 1 }
        }
        XCTAssertEqual(mismatches, 0, "\(label): \(mismatches) codes differ from the reference away from near-ties")
        return nearTies
    }

    func testEncodeImageMatchesReference() throws {
        for config in Self.configs {
            let vq = try tokenizer(config), ref = try expected(config)
            let pixels = try inputs().tensor(named: "image_pixel_values")
            let latents = try vq.encodeLatents(image: pixels)
            let wantLatents = try ref.tensor(named: "image_latents")
            XCTAssertEqual(latents.shape, wantLatents.shape)
            XCTAssertLessThan(Self.relativeL2(latents.toArray(), wantLatents.toArray()), 1e-4, "\(config): latents")
            let codes = try vq.quantize(latents)
            let ties = assertCodesMatch(codes, expected: try ref.tensor(named: "image_codes"),
                                        margins: try ref.tensor(named: "image_margins"), label: "\(config) image")
            XCTAssertEqual(ties, 0, "\(config): near-ties in the image codes")
        }
    }

    func testEncodeVideoMatchesReference() throws {
        for config in Self.configs {
            let vq = try tokenizer(config), ref = try expected(config)
            let frames = try inputs().tensor(named: "video_pixel_values")  // [8, 3, 16, 24]
            let latents = try vq.encodeLatents(video: frames)
            let wantLatents = try ref.tensor(named: "video_latents")
            XCTAssertEqual(latents.shape, wantLatents.shape)
            XCTAssertLessThan(Self.relativeL2(latents.toArray(), wantLatents.toArray()), 1e-4, "\(config): latents")
            let codes = try vq.quantize(latents)
            XCTAssertEqual(codes.frames, 2)
            let ties = assertCodesMatch(codes, expected: try ref.tensor(named: "video_codes"),
                                        margins: try ref.tensor(named: "video_margins"), label: "\(config) video")
            XCTAssertEqual(ties, 0, "\(config): near-ties in the video codes")
        }
    }

    func testDecodeMatchesReference() throws {
        for config in Self.configs {
            let vq = try tokenizer(config), ref = try expected(config)
            let imageCodes = try ref.tensor(named: "decode_image_codes")
            let s = imageCodes.shape
            let image = try vq.decodeImage(VisionCodes(frames: 1, height: s[0], width: s[1], values: imageCodes.toIntArray()))
            let wantImage = try ref.tensor(named: "decoded_image")
            XCTAssertEqual(image.shape, wantImage.shape)
            XCTAssertLessThan(Self.relativeL2(image.toArray(), wantImage.toArray()), 1e-4, "\(config): decoded image")

            let videoCodes = try ref.tensor(named: "decode_video_codes")
            let v = videoCodes.shape
            let video = try vq.decode(VisionCodes(frames: v[0], height: v[1], width: v[2], values: videoCodes.toIntArray()))
            let wantVideo = try ref.tensor(named: "decoded_video")
            XCTAssertEqual(video.shape, wantVideo.shape)
            XCTAssertLessThan(Self.relativeL2(video.toArray(), wantVideo.toArray()), 1e-4, "\(config): decoded video")
        }
    }

    /// The still-image shortcut (2D stages once) is bit-identical to encoding four copies, and
    /// decoding an image equals frame 0 of the full clip decode.
    func testStillImageShortcutIsBitIdentical() throws {
        let vq = try tokenizer("attention")
        let pixels = try inputs().tensor(named: "image_pixel_values")
        let shortcut = try vq.encodeLatents(image: pixels)
        let clip = Tensor.concatenate(Array(repeating: pixels.reshaped([1] + pixels.shape), count: 4), axis: 0)
        let full = try vq.encodeLatents(video: clip)
        XCTAssertEqual(shortcut.shape, full.shape)
        XCTAssertEqual(shortcut.toArray(), full.toArray())

        let codes = try vq.quantize(shortcut)
        let image = try vq.decodeImage(codes)
        let frames = try vq.decode(codes)
        XCTAssertEqual(frames.shape[0], 4)
        XCTAssertEqual(image.toArray(), frames.rows(0..<1).toArray())
    }

    func testRejectsBadShapes() throws {
        let vq = try tokenizer("widths")
        XCTAssertThrowsError(try vq.encode(video: Tensor(zeros: [6, 3, 16, 24]))) { error in
            XCTAssertTrue("\(error)".contains("multiple of the temporal factor"), "\(error)")
        }
        XCTAssertThrowsError(try vq.encode(image: Tensor(zeros: [3, 15, 24])))
        XCTAssertThrowsError(try vq.decode(VisionCodes(frames: 1, height: 1, width: 1, values: [256])))
    }
}
