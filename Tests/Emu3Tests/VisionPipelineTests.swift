import EmuIO
import EmuTensor
import Foundation
import XCTest
@testable import Emu3

/// The library pipeline behind `emu vq` on the tiny checkpoint (Tests/Fixtures/tiny-emu3), checked
/// against transformers' codes for it: golden/chat.json (Emu3Model.get_image_tokens of chat_image.png
/// through Emu3ImageProcessor) and golden/vq_forward.safetensors (a 4-frame clip, its codes and
/// `Emu3VQVAE.decode` of them), both by scripts/reference/make_checkpoint.py.
final class VisionPipelineTests: XCTestCase {
    static let chatImage = Emu3Fixtures.golden.appendingPathComponent("chat_image.png")

    func pipeline() throws -> VisionTokenizerPipeline {
        try VisionTokenizerPipeline(directory: Emu3Fixtures.tinyCheckpoint.path)
    }

    /// chat.json's code rows and resized size ([height, width]).
    func referenceImage() throws -> (codes: [[Int]], resized: [Int]) {
        let chat = try Emu3Fixtures.json("chat")
        return (try XCTUnwrap(chat["codes"] as? [[Int]]), try Emu3Fixtures.ints(chat["resized_size"]))
    }

    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("emu-vq-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testEncodeImageFileMatchesReferenceCodes() throws {
        let encoding = try pipeline().encode(file: Self.chatImage)
        let reference = try referenceImage()
        XCTAssertEqual(encoding.codes.frames, 1)
        XCTAssertEqual(encoding.codes.nested[0], reference.codes)
        XCTAssertEqual([encoding.pixelHeight, encoding.pixelWidth], reference.resized)
    }

    /// The reference encodes an image as a clip of 4 copies, so a folder of 4 copies of the frame is
    /// a video with the image's codes; a count that is not a multiple of 4 is an error naming the folder.
    func testFolderOfFramesIsOneVideo() throws {
        let folder = try temporaryFolder()
        let image = try ImageFile.read(Self.chatImage)
        let copies = try VideoFile.writePNGFrames([RGBImage](repeating: image, count: 4), to: folder)
        let encoding = try pipeline().encode(file: folder)
        XCTAssertEqual(encoding.codes.frames, 1)
        XCTAssertEqual(encoding.codes.nested[0], try referenceImage().codes)

        try FileManager.default.removeItem(at: copies[3])
        XCTAssertThrowsError(try pipeline().encode(file: folder)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(folder.path) && message.contains("multiple of the temporal factor 4"), message)
        }
    }

    /// transformers' codes of a 4-frame clip and its decoding: codes equal, pixels within 1e-4 relative L2.
    func testVideoCodesAndDecodingMatchReference() throws {
        let reference = try SafetensorsFile(path: Emu3Fixtures.golden.appendingPathComponent("vq_forward.safetensors").path)
        let pixels = try reference.tensor(named: "pixel_values")  // [1, 4, 3, 16, 16]
        let want = try reference.tensor(named: "codes")  // [1, 1, 4, 4]
        let tokenizer = try pipeline().tokenizer
        let codes = try tokenizer.encode(video: pixels.reshaped(Array(pixels.shape.dropFirst())))
        XCTAssertEqual([codes.frames, codes.height, codes.width], Array(want.shape.dropFirst()))
        XCTAssertEqual(codes.values, want.toIntArray())

        let decoded = try tokenizer.decode(codes)  // [4, 3, 16, 16]
        let expected = try reference.tensor(named: "decoded")
        XCTAssertEqual([1] + decoded.shape, expected.shape)
        XCTAssertLessThan(VisionTokenizerTests.relativeL2(decoded.toArray(), expected.toArray()), 1e-4)
        // The still-image path decodes frame 0 of the same clip.
        let frame0 = try tokenizer.decodeImage(codes)
        XCTAssertEqual(frame0.toArray(), Array(decoded.toArray()[0..<(3 * 16 * 16)]))
    }

    func testEncodingJSONIsTheCommandsFormat() throws {
        let encoding = try pipeline().encode(file: Self.chatImage)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: try encoder.encode(encoding)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["frames", "height", "width", "pixelHeight", "pixelWidth", "codes"])
        XCTAssertEqual(object["codes"] as? [[[Int]]], [try referenceImage().codes])
        XCTAssertEqual(try JSONDecoder().decode(VisionEncoding.self, from: try encoder.encode(encoding)), encoding)
        let inconsistent = Data(#"{"frames":2,"height":1,"width":1,"pixelHeight":4,"pixelWidth":4,"codes":[[[3]]]}"#.utf8)
        XCTAssertThrowsError(try JSONDecoder().decode(VisionEncoding.self, from: inconsistent))
    }

    func testNonImageErrorNamesTheFile() throws {
        let folder = try temporaryFolder()
        let fake = folder.appendingPathComponent("notes.png")
        try Data("not a picture".utf8).write(to: fake)
        XCTAssertThrowsError(try pipeline().encode(file: fake)) { error in
            XCTAssertTrue("\(error)".contains(fake.path), "\(error)")
        }
    }

    func testRoundTripWritesTheDecodedImageAndItsPSNR() throws {
        let p = try pipeline()
        let image = try ImageFile.read(Self.chatImage)
        let (encoding, decoded, psnr) = try p.roundTrip([image])
        XCTAssertEqual(decoded.count, 1)
        XCTAssertEqual(decoded[0], try p.decodeImage(encoding.codes))
        XCTAssertEqual(psnr, try VisionTokenizerPipeline.psnr(image, decoded[0]))  // 24x32 needs no resize
        XCTAssertTrue(psnr.isFinite && psnr > 0)
        // PSNR itself: every value off by one is an MSE of 1, 20 log10(255) dB.
        var shifted = image
        shifted.pixels = image.pixels.map { $0 == 255 ? 254 : $0 + 1 }
        XCTAssertEqual(try VisionTokenizerPipeline.psnr(image, shifted), 20 * log10(255), accuracy: 1e-9)
        let out = try temporaryFolder().appendingPathComponent("out.png")
        try VisionTokenizerPipeline.writeMedia(decoded, to: out)
        XCTAssertEqual(try ImageFile.read(out), decoded[0])
    }

    /// encode-dataset: shards readable by `VisionCodeShards`, codes equal to encoding each file
    /// alone (and to the reference for chat_image.png); a rerun skips finished items, resumes after
    /// an interrupted index line, and stops at a bad file naming it with earlier items kept.
    func testDatasetEncodingIsResumableAndReadable() throws {
        let input = try temporaryFolder(), output = try temporaryFolder().appendingPathComponent("shards")
        try FileManager.default.createDirectory(at: input.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.chatImage, to: input.appendingPathComponent("a.png"))
        try FileManager.default.copyItem(at: VisionTokenizerTests.fixtures.appendingPathComponent("image_40x56.png"),
                                         to: input.appendingPathComponent("sub/b.png"))
        let encoder = VisionDatasetEncoder(pipeline: try pipeline(), itemsPerShard: 1)
        var seen: [String] = []
        let first = try encoder.encode(input: input, output: output) { source, _, _ in seen.append(source) }
        XCTAssertEqual(seen, ["a.png", "sub/b.png"])
        XCTAssertEqual(first, .init(sources: 2, encoded: 2, skipped: 0, items: 2))

        let gif = Emu3Fixtures.root.appendingPathComponent("media/gif_anim.gif")  // 4 frames: one video
        try FileManager.default.copyItem(at: gif, to: input.appendingPathComponent("c.gif"))
        let second = try encoder.encode(input: input, output: output)
        XCTAssertEqual(second, .init(sources: 3, encoded: 1, skipped: 2, items: 3))

        let shards = try VisionCodeShards(folder: output)
        XCTAssertEqual(shards.entries.map(\.source), ["a.png", "sub/b.png", "c.gif"])
        XCTAssertEqual(Set(shards.entries.map(\.shard)).count, 3)
        let all = try shards.allCodes()
        XCTAssertEqual(all[0].nested[0], try referenceImage().codes)
        for (entry, codes) in zip(shards.entries, all) {
            XCTAssertEqual(codes, try encoder.pipeline.encode(file: input.appendingPathComponent(entry.source)).codes, entry.source)
        }
        XCTAssertEqual(try shards.codes(at: 2), all[2])

        // An interrupted run: the last index line torn in half. The rerun re-encodes that item only.
        let index = output.appendingPathComponent(VisionCodeShards.indexName)
        var text = try String(contentsOf: index, encoding: .utf8)
        text.removeLast(20)
        try text.write(to: index, atomically: true, encoding: .utf8)
        XCTAssertEqual(try VisionCodeShards(folder: output).count, 2)
        let third = try encoder.encode(input: input, output: output)
        XCTAssertEqual(third, .init(sources: 3, encoded: 1, skipped: 2, items: 3))
        XCTAssertEqual(try VisionCodeShards(folder: output).allCodes(), all)

        // A bad file stops the run with its name; the items before it are kept.
        try FileManager.default.copyItem(at: Self.chatImage, to: input.appendingPathComponent("d.png"))
        try Data("junk".utf8).write(to: input.appendingPathComponent("e.png"))
        XCTAssertThrowsError(try encoder.encode(input: input, output: output)) { error in
            XCTAssertTrue("\(error)".contains("e.png"), "\(error)")
        }
        XCTAssertEqual(try VisionCodeShards(folder: output).entries.map(\.source).last, "d.png")
    }
}
