import Foundation
import ShapesWorld
import XCTest
@testable import ShapesRecipe

/// The bundled model can only draw what its codec can: true scenes for the GenEval prompts, coded
/// and decoded by the bundled patch codebook, must still read back correctly. This is the ceiling
/// of the text-to-image metric (RESULTS.md), and it fails if the codebook blurs shapes away: the
/// 256-entry codebook bundled before measured 0.66 here; the 1024-entry one 0.865 (single objects 0.925).
final class BundledCodecCeilingTests: XCTestCase {
    func testBundledCodebookKeepsGenEvalScenesReadable() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Models/shapes-emu3")
        let model = try ShapesModel(directory: folder)
        let report = try CodecCeiling.genEval(model.codec, perCategory: 40)
        XCTAssertEqual(report.promptCount, 40 * GenEvalCategory.allCases.count, "every prompt has a true scene")
        print("GenEval on true scenes through the bundled codebook: \(report.accuracy) overall \(report.overall)")
        XCTAssertGreaterThanOrEqual(report.overall, 0.85)
        XCTAssertGreaterThanOrEqual(report.accuracy["single_object"] ?? 0, 0.9)
    }
}
