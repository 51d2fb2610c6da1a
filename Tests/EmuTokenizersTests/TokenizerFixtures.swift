import Foundation
@testable import EmuTokenizers

/// The parity fixtures written by scripts/reference/make_tokenizer_fixtures.py.
enum TokenizerFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent("tokenizer")

    struct Expected: Decodable {
        var hf: [[Int]]
        var hf_qwen: [[Int]]
        var tiktoken: [[Int]]
        var gpt2_pieces: [[Int]]
        var qwen_pieces: [[Int]]
        var hf_skip_special: [String: String]
        var tiktoken_skip_special: [String: String]
        var hf_single_id_decodes: [String]
        var base_vocabulary_size: Int
    }

    static let documents: [String] = {
        struct Corpus: Decodable { var documents: [String] }
        let data = try! Data(contentsOf: directory.appendingPathComponent("corpus.json"))
        return try! JSONDecoder().decode(Corpus.self, from: data).documents
    }()

    static let expected: Expected = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("expected.json"))
        return try! JSONDecoder().decode(Expected.self, from: data)
    }()

    static var visionTokensFile: URL { directory.appendingPathComponent("emu3_vision_tokens.txt") }
    static var tiktokenFile: URL { directory.appendingPathComponent("emu3.tiktoken") }

    /// The stored tokenizer.json plus the 32768 visual tokens, appended exactly as the script's
    /// `full_tokenizer_json` does (the stored file omits them to stay small).
    static func fullTokenizerJSON(qwenVariant: Bool = false) throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent("tokenizer.json"))
        var json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        var added = json["added_tokens"] as! [[String: Any]]
        var nextID = (added.last!["id"] as! NSNumber).intValue + 1
        for name in try BPETokenizer.readVisionTokens(visionTokensFile) where name.hasPrefix("<|visual token") {
            added.append(["id": nextID, "content": name, "single_word": false, "lstrip": false, "rstrip": false,
                          "normalized": false, "special": true])
            nextID += 1
        }
        json["added_tokens"] = added
        if qwenVariant {
            // The script's `qwen_variant`: NFC, Split(Qwen, Isolated) + ByteLevel(no regex), pair merges.
            json["normalizer"] = ["type": "NFC"]
            json["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": PreTokenizerPattern.qwenSource], "behavior": "Isolated",
                 "invert": false],
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false],
            ]]
            var model = json["model"] as! [String: Any]
            model["merges"] = (model["merges"] as! [String]).map { $0.split(separator: " ").map(String.init) }
            json["model"] = model
        }
        return json
    }

    static func hfTokenizer(qwenVariant: Bool = false) throws -> BPETokenizer {
        let data = try JSONSerialization.data(withJSONObject: fullTokenizerJSON(qwenVariant: qwenVariant))
        return try BPETokenizer(tokenizerJSONData: data)
    }

    static func tiktokenTokenizer() throws -> BPETokenizer {
        try BPETokenizer(tiktokenFile: tiktokenFile, visionTokensFile: visionTokensFile)
    }
}
