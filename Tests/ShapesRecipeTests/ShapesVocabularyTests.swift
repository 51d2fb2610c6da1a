import Foundation
import XCTest
@testable import ShapesRecipe

final class ShapesVocabularyTests: XCTestCase {
    /// A saved tokenizer reloads with its visual tokens as one consecutive range; one whose visual
    /// tokens are out of code order is refused by name, since codes map to ids by offset.
    func testVisualTokensReloadConsecutiveAndShuffledOnesAreRefused() throws {
        let vocabulary = ShapesVocabulary(words: ["a", "red", "circle"], codebookSize: 4)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("shapes-vocab-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        let good = folder.appendingPathComponent("tokenizer.json")
        try vocabulary.tokenizerJSON().write(to: good)
        let reloaded = try ShapesVocabulary.load(tokenizerJSON: good)
        XCTAssertEqual(reloaded.visualTokens, (0..<4).map { vocabulary.ids[String(format: "<|visual token %06d|>", $0)]! })
        XCTAssertEqual(reloaded.visualTokenRange.count, 4)

        // Swap the ids of visual tokens 1 and 2.
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: vocabulary.tokenizerJSON()) as? [String: Any])
        var model = try XCTUnwrap(json["model"] as? [String: Any])
        var vocab = try XCTUnwrap(model["vocab"] as? [String: Int])
        let one = "<|visual token 000001|>", two = "<|visual token 000002|>"
        (vocab[one], vocab[two]) = (vocab[two], vocab[one])
        model["vocab"] = vocab
        json["model"] = model
        let shuffled = folder.appendingPathComponent("shuffled.json")
        try JSONSerialization.data(withJSONObject: json).write(to: shuffled)
        XCTAssertThrowsError(try ShapesVocabulary.load(tokenizerJSON: shuffled)) { error in
            XCTAssertTrue("\(error)".contains("visual tokens"), "\(error)")
        }
    }
}
