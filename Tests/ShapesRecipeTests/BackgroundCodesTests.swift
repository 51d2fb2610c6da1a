import EmuIO
import Foundation
import ShapesWorld
import XCTest
@testable import ShapesRecipe

/// `BackgroundCodes` counts the codes of empty cells only (the cell and half a cell around it all
/// background) and measures their spread at each place: one code per place is entropy 0; codes
/// that change with what lies elsewhere are not.
final class BackgroundCodesTests: XCTestCase {
    /// An 8x8 grid of codes made by `rule`; decoding is never called.
    struct StubCodec: ShapesImageCodec {
        static let kind = "stub"
        let rule: @Sendable (RGBImage) -> [Int]
        var codeCount: Int { 64 }
        var spatialFactor: Int { 8 }
        func encode(_ image: RGBImage) throws -> [Int] { rule(image) }
        func decode(_ codes: [Int], rows: Int, columns: Int) throws -> RGBImage { RGBImage(width: 64, height: 64) }
        func checkpointEntries() throws -> CodecCheckpointEntries { CodecCheckpointEntries(tensors: [:], config: [:]) }
    }

    /// Codes by position alone: every cell a code of its own.
    static let positionCodec = StubCodec { _ in Array(0..<64) }
    /// A local codec: 0 for a cell of background, 1 for anything else.
    static let localCodec = StubCodec { image in
        (0..<64).map { BackgroundCodes.isEmpty(image, x: ($0 % 8) * 8, y: ($0 / 8) * 8, side: 8) ? 0 : 1 }
    }
    /// Codes from elsewhere: every cell gets 1 if the picture's top-left pixel is lit, else 0.
    static let cornerCodec = StubCodec { image in [Int](repeating: image.pixels[0] > 0 ? 1 : 0, count: 64) }

    func testEmptyCellsAndTheirEntropy() throws {
        let blank = RGBImage(width: 64, height: 64)
        let blankStatistics = try BackgroundCodes.measure(Self.positionCodec, pictures: [blank, blank])
        XCTAssertEqual(blankStatistics.cells, 128)
        XCTAssertEqual(blankStatistics.distinctCodes, 64)
        XCTAssertEqual(blankStatistics.entropy, 0, "one code per place")

        // One lit pixel at (20, 20) makes the four cells whose neighbourhoods reach it non-empty:
        // columns and rows 2 (pixels 12..<28) and 3 (20..<36), not 1 (4..<20).
        var dot = blank
        for c in 0..<3 { dot.pixels[(20 * 64 + 20) * 3 + c] = 255 }
        XCTAssertEqual(try BackgroundCodes.measure(Self.positionCodec, pictures: [dot]).cells, 60)

        // Codes set by a pixel far away: the same place takes two codes equally often, log 2;
        // the cells near the lit corner are not empty and not counted.
        var corner = blank
        for c in 0..<3 { corner.pixels[c] = 255 }
        let elsewhere = try BackgroundCodes.measure(Self.cornerCodec, pictures: [blank, corner])
        XCTAssertEqual(elsewhere.cells, 64 + 63)
        XCTAssertEqual(elsewhere.distinctCodes, 2)
        XCTAssertEqual(elsewhere.entropy, 126.0 / 127 * log(2), accuracy: 1e-12)

        // A local codec gives every empty cell the same code, however many objects elsewhere.
        let scenes = TaskData.captionedImages(.heldOut, count: 20).map(\.image)
        let local = try BackgroundCodes.measure(Self.localCodec, pictures: scenes)
        XCTAssertGreaterThan(local.cells, 20 * 20, "most cells of a scene are empty")
        XCTAssertEqual(local.distinctCodes, 1)
        XCTAssertEqual(local.entropy, 0)
    }

    /// The bundled VQ-VAE with blank cells: the empty canvas codes as itself, every empty cell of a
    /// scene gets the empty canvas's code at its place and every other cell keeps the VQ-VAE's
    /// code; the blank codes survive the checkpoint's config entry, and are the bundled model's.
    func testBlankCellsGiveEmptyCellsTheEmptyCanvasCodes() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Models/shapes-emu3")
        let bundled = try XCTUnwrap(try ShapesModel(directory: folder).codec as? VisionTokenizerCodec)
        let plain = VisionTokenizerCodec(tokenizer: bundled.tokenizer, weights: bundled.weights)
        let blank = try plain.withBlankCells()
        XCTAssertEqual(bundled.blankCodes, blank.blankCodes, "the bundled model codes empty cells as blank")
        let blankCodes = try XCTUnwrap(blank.blankCodes)
        let empty = RGBImage(width: 64, height: 64)
        XCTAssertEqual(try plain.encode(empty), blankCodes)
        XCTAssertEqual(try blank.encode(empty), blankCodes)

        let scenes = TaskData.captionedImages(.heldOut, count: 20).map(\.image)
        var changed = 0
        for scene in scenes {
            let before = try plain.encode(scene), after = try blank.encode(scene)
            for i in before.indices {
                let isEmpty = BackgroundCodes.isEmpty(scene, x: (i % 8) * 8 - 4, y: (i / 8) * 8 - 4, side: 16)
                XCTAssertEqual(after[i], isEmpty ? blankCodes[i] : before[i])
                if after[i] != before[i] { changed += 1 }
            }
        }
        XCTAssertGreaterThan(changed, 0, "the plain VQ-VAE gives some empty cells other codes")
        let statistics = try BackgroundCodes.measure(blank, pictures: scenes)
        XCTAssertLessThanOrEqual(statistics.distinctCodes, Set(blankCodes).count)
        XCTAssertEqual(statistics.entropy, 0, accuracy: 1e-12)
        XCTAssertGreaterThan(try BackgroundCodes.measure(plain, pictures: scenes).entropy, 1)

        let entry = try XCTUnwrap(try blank.checkpointEntries().config["shapes_codec"] as? [String: Any])
        XCTAssertEqual(try ShapesModel.blankCodes(entry["blank_codes"], codeCount: blank.codeCount, cells: 64), blankCodes)
        XCTAssertNil(try plain.checkpointEntries().config["shapes_codec"].flatMap { ($0 as? [String: Any])?["blank_codes"] })
        XCTAssertThrowsError(try ShapesModel.blankCodes([1, 2, 3], codeCount: blank.codeCount, cells: 64)) { error in
            XCTAssertTrue("\(error)".contains("blank_codes"), "\(error)")
        }
        XCTAssertThrowsError(try ShapesModel.blankCodes(blankCodes.map { _ in blank.codeCount }, codeCount: blank.codeCount, cells: 64))
    }
}
