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

    /// tokenizer.json holds only keys HF tokenizers knows (it refuses the file otherwise; stop 43's
    /// bundled file had `shapes_codebook_size`). A file written with that key still loads when the
    /// key agrees with the visual tokens, and is refused by name when it does not.
    func testTokenizerJSONHasOnlyHFKeysAndOldFilesStillLoad() throws {
        let vocabulary = ShapesVocabulary(words: ["a", "red", "circle"], codebookSize: 4)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: vocabulary.tokenizerJSON()) as? [String: Any])
        XCTAssertEqual(Set(json.keys).subtracting(ShapesVocabulary.tokenizerJSONKeys), [])
        XCTAssertNotNil(json["model"])

        let folder = temporaryFolder("shapes-vocab-keys")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let current = folder.appendingPathComponent("current.json")
        try vocabulary.tokenizerJSON().write(to: current)
        XCTAssertEqual(try ShapesVocabulary.load(tokenizerJSON: current), vocabulary)

        for (stated, loads) in [(4, true), (5, false)] {
            var old = json
            old["shapes_codebook_size"] = stated
            let url = folder.appendingPathComponent("old-\(stated).json")
            try JSONSerialization.data(withJSONObject: old).write(to: url)
            if loads {
                XCTAssertEqual(try ShapesVocabulary.load(tokenizerJSON: url), vocabulary)
            } else {
                XCTAssertThrowsError(try ShapesVocabulary.load(tokenizerJSON: url)) { error in
                    XCTAssertTrue("\(error)".contains("shapes_codebook_size 5 but 4 visual tokens"), "\(error)")
                }
            }
        }
    }
}
