import Foundation
import XCTest
@testable import EmuTokenizers

/// Identical ids and round trips against the Python references (`tokenizers` 0.22, `tiktoken`
/// 0.14, `regex`) on the whole fixture corpus (>= 100k characters), document by document.
final class TokenizerParityTests: XCTestCase {
    let documents = TokenizerFixtures.documents
    let expected = TokenizerFixtures.expected

    func testCorpusIsLargeAndVaried() {
        XCTAssertGreaterThanOrEqual(documents.reduce(0) { $0 + $1.count }, 100_000)
        let all = documents.joined()
        for needle in ["\r\n", "\t", "<|visual token", "DON'T", "👨‍👩‍👧‍👦", "我们", "これ", "def "] {
            XCTAssertTrue(all.contains(needle), needle)
        }
    }

    private func assertPieces(_ pattern: PreTokenizerPattern, _ expectedLengths: [[Int]]) {
        XCTAssertEqual(expectedLengths.count, documents.count)
        for (i, doc) in documents.enumerated() {
            let lengths = pattern.split(doc).map { $0.unicodeScalars.count }
            if lengths != expectedLengths[i] {
                XCTFail("\(pattern) pieces differ from Python regex on document \(i): \(doc.debugDescription.prefix(200))")
                return
            }
        }
    }

    func testGPT2PatternMatchesPythonRegex() { assertPieces(.gpt2, expected.gpt2_pieces) }

    func testQwenPatternMatchesPythonRegex() { assertPieces(.qwen, expected.qwen_pieces) }

    private func assertIDs(_ tokenizer: BPETokenizer, _ expectedIDs: [[Int]], name: String) {
        XCTAssertEqual(expectedIDs.count, documents.count)
        var failures = 0
        for (i, doc) in documents.enumerated() {
            let ids = tokenizer.encode(doc)
            if ids != expectedIDs[i] {
                let firstDiff = zip(ids, expectedIDs[i]).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(ids.count, expectedIDs[i].count)
                XCTFail("\(name): document \(i) differs at id #\(firstDiff): got \(ids[firstDiff..<min(ids.count, firstDiff + 5)]) expected \(expectedIDs[i][firstDiff..<min(expectedIDs[i].count, firstDiff + 5)]) in \(doc.debugDescription.prefix(160))")
                failures += 1
                if failures > 5 { return }
            }
        }
    }

    func testTokenizerJSONMatchesHuggingFace() throws {
        assertIDs(try TokenizerFixtures.hfTokenizer(), expected.hf, name: "tokenizer.json (ByteLevel)")
    }

    func testQwenStyleTokenizerJSONMatchesHuggingFace() throws {
        assertIDs(try TokenizerFixtures.hfTokenizer(qwenVariant: true), expected.hf_qwen, name: "tokenizer.json (Split+ByteLevel)")
    }

    func testTiktokenMatchesTiktoken() throws {
        assertIDs(try TokenizerFixtures.tiktokenTokenizer(), expected.tiktoken, name: "tiktoken")
    }

    func testRoundTrips() throws {
        let hf = try TokenizerFixtures.hfTokenizer()
        let tiktoken = try TokenizerFixtures.tiktokenTokenizer()
        for (i, doc) in documents.enumerated() {
            XCTAssertEqual(try hf.decode(expected.hf[i]), doc, "HF round trip, document \(i)")
            XCTAssertEqual(try tiktoken.decode(expected.tiktoken[i]), doc.precomposedStringWithCanonicalMapping,
                           "tiktoken round trip (NFC), document \(i)")
        }
        for (key, text) in expected.hf_skip_special {
            XCTAssertEqual(try hf.decode(expected.hf[Int(key)!], skipSpecialTokens: true), text, "HF skip_special, document \(key)")
        }
        for (key, text) in expected.tiktoken_skip_special {
            XCTAssertEqual(try tiktoken.decode(expected.tiktoken[Int(key)!], skipSpecialTokens: true), text,
                           "BAAI skip_special, document \(key)")
        }
        XCTAssertFalse(expected.hf_skip_special.isEmpty)
    }

    /// Single ids decode to the same (often lossy, U+FFFD) strings as HF.
    func testSingleIDDecodesMatchHuggingFace() throws {
        let hf = try TokenizerFixtures.hfTokenizer()
        for (id, text) in expected.hf_single_id_decodes.enumerated() {
            XCTAssertEqual(try hf.decode([id]), text, "id \(id)")
        }
        XCTAssertThrowsError(try hf.decode([hf.vocabularySize])) { error in
            XCTAssertEqual(error as? TokenizerError, .unknownTokenID(hf.vocabularySize))
        }
    }

    func testVocabulariesAgreeOnIDs() throws {
        let hf = try TokenizerFixtures.hfTokenizer()
        let tiktoken = try TokenizerFixtures.tiktokenTokenizer()
        let base = expected.base_vocabulary_size
        XCTAssertEqual(hf.vocabularySize, base + 211 + 32768)
        XCTAssertEqual(tiktoken.vocabularySize, hf.vocabularySize)
        for name in ["<|endoftext|>", "<|extra_200|>", "<|extra_204|>", "<|image start|>", "<|visual token 000000|>",
                     "<|visual token 032767|>", "Ġthe"] {
            XCTAssertEqual(hf.id(for: name), tiktoken.id(for: name), name)
        }
        XCTAssertEqual(hf.id(for: "<|endoftext|>"), base)
        XCTAssertEqual(hf.id(for: "<image>"), base + 3)
        XCTAssertEqual(tiktoken.id(for: "<|extra_0|>"), base + 3)
        XCTAssertEqual(hf.token(for: base + 211), "<|visual token 000000|>")
    }

    /// Encoding the 110k-character corpus as one text (timed; the bound is loose for a shared CI box).
    func testEncodingSpeed() throws {
        let hf = try TokenizerFixtures.hfTokenizer()
        let tiktoken = try TokenizerFixtures.tiktokenTokenizer()
        let text = documents.joined(separator: "\n")
        for (name, tokenizer) in [("tokenizer.json", hf), ("tiktoken", tiktoken)] {
            let start = Date()
            let ids = tokenizer.encode(text)
            let seconds = Date().timeIntervalSince(start)
            print("encode \(text.count) characters -> \(ids.count) ids with \(name): \(String(format: "%.3f", seconds)) s")
            XCTAssertEqual(try tokenizer.decode(ids), name == "tiktoken" ? text.precomposedStringWithCanonicalMapping : text)
            XCTAssertLessThan(seconds, 5)
        }
    }
}
