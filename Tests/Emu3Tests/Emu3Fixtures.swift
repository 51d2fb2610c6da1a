import Emu3
import EmuIO
import EmuTensor
import Foundation
import XCTest

/// Paths and readers for the committed reference fixtures (written by scripts/reference/make_checkpoint.py).
enum Emu3Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let tinyCheckpoint = root.appendingPathComponent("tiny-emu3")
    static let golden = root.appendingPathComponent("golden")

    /// The golden JSON document `name`.json.
    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: golden.appendingPathComponent(name + ".json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The tiny checkpoint with only its transformer loaded (bf16 weights, memory-mapped).
    static func pipeline(_ components: Emu3Pipeline.Components = .transformer) throws -> Emu3Pipeline {
        try Emu3Pipeline(directory: tinyCheckpoint, components: components)
    }

    /// The image grid constraint for the rows and columns of a text-to-image golden.
    static func imageConstraint(_ golden: [String: Any], _ pipeline: Emu3Pipeline) throws -> ImageGridConstraint {
        let (rows, columns) = (try XCTUnwrap(golden["rows"] as? Int), try XCTUnwrap(golden["columns"] as? Int))
        return ImageGridConstraint(rows: rows, columns: columns, specials: pipeline.specials, visualTokens: pipeline.visualTokens)
    }

    static func ints(_ value: Any?) throws -> [Int] { try XCTUnwrap(value as? [Int]) }
    static func floats(_ value: Any?) throws -> [Float] { try XCTUnwrap(value as? [Double]).map { Float($0) } }
}

/// Largest |a - b| over the largest |b| (1 at least): the relative error of a whole logits row.
func relativeError(_ actual: [Float], _ expected: [Float]) -> Float {
    precondition(actual.count == expected.count, "\(actual.count) vs \(expected.count) values")
    var worst: Float = 0, scale: Float = 1
    for (a, b) in zip(actual, expected) {
        worst = max(worst, abs(a - b))
        scale = max(scale, abs(b))
    }
    return worst / scale
}
