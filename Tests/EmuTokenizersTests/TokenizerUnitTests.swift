import Foundation
import XCTest
@testable import EmuTokenizers

/// Loader errors, the added-token trie and the vision vocabulary.
final class TokenizerUnitTests: XCTestCase {
    /// A tiny valid byte-level tokenizer.json to break in different ways.
    private func tinyJSON() -> [String: Any] {
        var vocab: [String: Int] = [:]
        for (b, c) in ByteLevelAlphabet.characters.enumerated() { vocab[String(Character(c))] = b }
        vocab["ab"] = 256
        return [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "added_tokens": [[String: Any]](),
            "normalizer": NSNull(),
            "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
            "post_processor": NSNull(), "decoder": ["type": "ByteLevel"],
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "fuse_unk": false,
                      "byte_fallback": false, "ignore_merges": false, "vocab": vocab, "merges": ["a b"]],
        ]
    }

    private func load(_ json: [String: Any]) throws -> BPETokenizer {
        try BPETokenizer(tokenizerJSONData: JSONSerialization.data(withJSONObject: json), source: "tiny.json")
    }

    private func assertError(_ json: [String: Any], _ expected: TokenizerError, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(json), file: file, line: line) { error in
            XCTAssertEqual(error as? TokenizerError, expected, "\(error)", file: file, line: line)
        }
    }

    func testTinyTokenizerWorks() throws {
        let tokenizer = try load(tinyJSON())

        XCTAssertEqual(tokenizer.encode("ab"), [256])
        XCTAssertEqual(try tokenizer.decode(tokenizer.encode("ab ab\n")), "ab ab\n")
    }

    func testUnknownModelType() {
        var json = tinyJSON()
        var model = json["model"] as! [String: Any]
        model["type"] = "WordPiece"
        json["model"] = model
        assertError(json, .unsupported(source: "tiny.json", field: "model.type", value: "WordPiece"))
    }

    func testUnknownPreTokenizer() {
        var json = tinyJSON()
        json["pre_tokenizer"] = ["type": "Metaspace", "replacement": "▁"]
        assertError(json, .unsupported(source: "tiny.json", field: "pre_tokenizer.type", value: "Metaspace"))
        json["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
            ["type": "Split", "pattern": ["Regex": "\\w+"], "behavior": "Isolated", "invert": false]]]
        XCTAssertThrowsError(try load(json)) { error in
            guard case let .unsupported(_, field, _)? = error as? TokenizerError else { return XCTFail("\(error)") }
            XCTAssertEqual(field, "pre_tokenizer.pretokenizers[0].pattern.Regex")
        }
    }

    func testMissingVocabulary() {
        var json = tinyJSON()
        var model = json["model"] as! [String: Any]
        model["vocab"] = nil
        json["model"] = model
        assertError(json, .missingField(source: "tiny.json", field: "model.vocab"))
    }

    func testOtherRejections() {
        var json = tinyJSON()
        json["normalizer"] = ["type": "Lowercase"]
        assertError(json, .unsupported(source: "tiny.json", field: "normalizer.type", value: "Lowercase"))

        json = tinyJSON()
        var model = json["model"] as! [String: Any]
        model["merges"] = ["a c c"]
        json["model"] = model
        XCTAssertThrowsError(try load(json))
        model["merges"] = [["a", "zz"]]
        json["model"] = model
        assertError(json, .invalidMerge(source: "tiny.json", index: 0, merge: "a zz"))
        model["merges"] = ["a b"]
        model["dropout"] = 0.1
        json["model"] = model
        assertError(json, .unsupported(source: "tiny.json", field: "model.dropout", value: "0.1"))

        json = tinyJSON()
        json["decoder"] = ["type": "Metaspace"]
        assertError(json, .unsupported(source: "tiny.json", field: "decoder.type", value: "Metaspace"))

        json = tinyJSON()
        json["surprise"] = 1
        assertError(json, .unsupported(source: "tiny.json", field: "surprise", value: "(unknown top-level field)"))

        json = tinyJSON()
        json["added_tokens"] = [["id": 300, "content": "<x>", "single_word": true, "special": true]]
        assertError(json, .unsupported(source: "tiny.json", field: "added_tokens[0].single_word", value: "true"))

        XCTAssertThrowsError(try BPETokenizer(tokenizerJSONData: Data("{".utf8))) { error in
            guard case .malformedJSON? = error as? TokenizerError else { return XCTFail("\(error)") }
        }
    }

    /// Pair-form merges and ignore_merges/byte_fallback flags load and act.
    func testMergeFormsAndFlags() throws {
        var json = tinyJSON()
        var model = json["model"] as! [String: Any]
        var vocab = model["vocab"] as! [String: Int]
        vocab["abc"] = 257
        model["vocab"] = vocab
        model["merges"] = [["a", "b"]]  // no merge reaches "abc"
        json["model"] = model
        let c = ByteLevelAlphabet.bytes["c"].map(Int.init)!
        XCTAssertEqual(try load(json).encode("abc"), [256, c])
        model["ignore_merges"] = true
        json["model"] = model
        XCTAssertEqual(try load(json).encode("abc"), [257])
    }

    func testAddedTokenStripFlags() throws {
        var json = tinyJSON()
        json["added_tokens"] = [
            ["id": 300, "content": "<L>", "lstrip": true, "rstrip": false, "normalized": false, "special": true],
            ["id": 301, "content": "<R>", "lstrip": false, "rstrip": true, "normalized": false, "special": false],
        ]
        let tokenizer = try load(json)
        let space = Int(ByteLevelAlphabet.bytes["Ġ"]!)
        let a = Int(ByteLevelAlphabet.bytes["a"]!)
        XCTAssertEqual(tokenizer.encode("a  <L>a"), [a, 300, a])
        XCTAssertEqual(tokenizer.encode("a<R>  a"), [a, 301, a])
        XCTAssertEqual(tokenizer.encode("a <R>a"), [a, space, 301, a])
        XCTAssertEqual(try tokenizer.decode([a, 300, 301, a], skipSpecialTokens: true), "a<R>a")
    }

    func testTrieTakesLongestLeftmostMatch() {
        let trie = AddedTokenTrie([("<a>", 1), ("<a><b>", 2), ("<", 3), ("b>", 4), ("<a><b", 5)])
        XCTAssertEqual(trie.matches(in: "x<a><b>y").map(\.id), [2])
        XCTAssertEqual(trie.matches(in: "x<a><b>y").map(\.range), [1..<7])
        XCTAssertEqual(trie.matches(in: "<a><c").map(\.id), [1, 3])
        XCTAssertEqual(trie.matches(in: "<a><bb>").map(\.id), [5, 4])
        XCTAssertEqual(trie.matches(in: "no tokens here").count, 0)
        let visual = AddedTokenTrie((0..<32768).map { (String(format: "<|visual token %06d|>", $0), 1000 + $0) })
        XCTAssertEqual(visual.matches(in: "<|visual token 000007|><|visual token 0000|><|visual token 032767|>").map(\.id),
                       [1007, 1000 + 32767])
    }

    func testVisionVocabularyParsesBothNamings() throws {
        var map: [String: Int] = [:]
        for (i, role) in VisionVocabulary.Role.allCases.enumerated() { map[role.rawValue] = 10 + i }
        for k in 0..<16 { map[String(format: "<|visual token %06d|>", k)] = 100 + k }
        let spaced = try VisionVocabulary(vocabulary: map)
        XCTAssertEqual(spaced.codebookSize, 16)
        XCTAssertEqual(spaced.id(forCode: 5), 105)
        XCTAssertEqual(spaced.code(forID: 115), 15)
        XCTAssertNil(spaced.code(forID: 10))
        XCTAssertEqual(spaced.bos, map["<|extra_203|>"])
        XCTAssertEqual(spaced.imagePlaceholder, map["<image>"])

        var compact = map.filter { !$0.key.hasPrefix("<|visual") }
        for k in 0..<16 { compact[String(format: "<|visual token%06d|>", k)] = 200 + (15 - k) }
        let unspaced = try VisionVocabulary(vocabulary: compact)
        XCTAssertEqual(unspaced.id(forCode: 0), 215)
        XCTAssertEqual(unspaced.code(forID: 200), 15)

        XCTAssertEqual(try VisionVocabulary.visualCode("<|visual token 032767|>"), 32767)
        XCTAssertThrowsError(try VisionVocabulary.visualCode("<|visual token 0123|>"))
        XCTAssertThrowsError(try VisionVocabulary.visualCode("<|visual token abcdef|>"))

        var missing = map
        missing["<|extra_201|>"] = nil
        XCTAssertThrowsError(try VisionVocabulary(vocabulary: missing)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingToken(name: "<|extra_201|>", role: "endOfFrame"))
        }
        var gap = map
        gap["<|visual token 000003|>"] = nil
        XCTAssertThrowsError(try VisionVocabulary(vocabulary: gap))
    }

    func testVisionVocabularyFromFixtureTokenizers() throws {
        let hf = try VisionVocabulary(vocabulary: TokenizerFixtures.hfTokenizer().vocabulary)
        let baai = try VisionVocabulary(vocabulary: TokenizerFixtures.tiktokenTokenizer().vocabulary)
        XCTAssertEqual(hf.codebookSize, 32768)
        XCTAssertEqual(hf.visualTokenIDs, baai.visualTokenIDs)
        XCTAssertEqual(hf.id(forCode: 0), hf.img + 3)
        XCTAssertNil(baai.imagePlaceholder)
        XCTAssertNotNil(hf.imagePlaceholder)
    }
}
