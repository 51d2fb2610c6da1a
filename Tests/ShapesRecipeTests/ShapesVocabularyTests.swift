import Foundation
import XCTest
@testable import ShapesRecipe

final class ShapesVocabularyTests: XCTestCase {
    /// A saved tokenizer reloads with its visual tokens as one consecutive range; one whose visual
    /// tokens are out of code order is refused by name, since codes map to ids by offset.
    func testVisualTokensReloadConsecutiveAndShuffledOnesAreRefused() throws {
        let vocabulary = ShapesVocabulary(words: ["a", "red", "circle"], codebookSize: 4)
        let folder = temporaryFolder("shapes-vocab")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)

        let good = folder.appendingPathComponent("tokenizer.json")
        try vocabulary.tokenizerJSON().write(to: good)
        let reloaded = try ShapesVocabulary.load(tokenizerJSON: good)
        XCTAssertEqual(reloaded.visualTokens, (0..<4).map { vocabulary.ids[ShapesVocabulary.visualTokenName($0)]! })
        XCTAssertEqual(reloaded.visualTokenRange.count, 4)

        // Swap the ids of visual tokens 1 and 2.
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: vocabulary.tokenizerJSON()) as? [String: Any])
        var model = try XCTUnwrap(json["model"] as? [String: Any])
        var vocab = try XCTUnwrap(model["vocab"] as? [String: Int])
        let one = ShapesVocabulary.visualTokenName(1), two = ShapesVocabulary.visualTokenName(2)
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
