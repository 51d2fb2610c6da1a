import Emu3
import EmuTokenizers
import Foundation
import ShapesWorld

/// The bundled model's vocabulary: Emu3's structural tokens (same names as the real checkpoints, so
/// `ImageSpecialTokens` and `Processor` find them), the action tokens, one token per word of the
/// ShapesWorld language, and one visual token per codebook entry.
///
/// The world's language is closed (a caption grammar, question and instruction templates), so a word
/// vocabulary keeps sequences short; it is written to `tokenizer.json` in the HF `WordLevel` form.
public struct ShapesVocabulary: Sendable, Equatable {
    public static let structuralTokens = [
        "<|endoftext|>", "<|extra_203|>", "<|extra_204|>", "<|image start|>", "<|image token|>",
        "<|extra_200|>", "<|extra_201|>", "<|image end|>",
    ]
    public static let unknownToken = "<|unk|>"
    /// Separates a prompt from the answer the model writes.
    public static let assistantToken = "<|assistant|>"

    /// Token strings by id.
    public let tokens: [String]
    public let ids: [String: Int]
    public let codebookSize: Int

    /// `words` in the order given (duplicates dropped) after the special and action tokens, then
    /// `codebookSize` visual tokens.
    public init(words: [String], codebookSize: Int) {
        var tokens = Self.structuralTokens + [Self.unknownToken, Self.assistantToken] + ActionVocabulary.addedTokens
        var seen = Set(tokens)
        for word in words where seen.insert(word).inserted { tokens.append(word) }
        tokens += (0..<codebookSize).map(Self.visualTokenName)
        self.init(tokens: tokens, codebookSize: codebookSize)
    }

    init(tokens: [String], codebookSize: Int) {
        self.tokens = tokens
        var ids: [String: Int] = [:]
        for (id, token) in tokens.enumerated() { ids[token] = id }
        self.ids = ids
        self.codebookSize = codebookSize
    }

    public var count: Int { tokens.count }
    public func id(_ token: String) -> Int { ids[token] ?? ids[Self.unknownToken]! }
    public var specials: ImageSpecialTokens { try! ImageSpecialTokens(vocabulary: ids) }
    public var assistant: Int { ids[Self.assistantToken]! }
    /// The ids of the codebook's tokens (consecutive: the vocabulary lists them in code order).
    public var visualTokenRange: Range<Int> {
        let first = ids[Self.visualTokenName(0)]!
        return first..<(first + codebookSize)
    }
    /// The token of visual code `code` (Emu3's `<|visual token 000042|>`).
    public static func visualTokenName(_ code: Int) -> String { String(format: "<|visual token %06d|>", code) }
    static func isVisualTokenName(_ token: String) -> Bool {
        token.hasPrefix("<|visual token ") && token.hasSuffix("|>")
    }
    /// Visual code k -> token id.
    public var visualTokens: [Int] { Array(visualTokenRange) }
    public func actionToken(_ action: DiscreteAction) -> Int { ids[ActionVocabulary.token(for: action)]! }
    public var beginOfAction: Int { ids[ActionVocabulary.beginOfAction]! }
    public var endOfAction: Int { ids[ActionVocabulary.endOfAction]! }

    /// Splits text into words and the punctuation marks `. , ? * :` (each its own token).
    public static func words(of text: String) -> [String] {
        var words: [String] = [], current = ""
        for character in text.lowercased() {
            if character == " " || character == "\n" || character == "\t" {
                if !current.isEmpty { words.append(current); current = "" }
            } else if ".,?*:".contains(character) {
                if !current.isEmpty { words.append(current); current = "" }
                words.append(String(character))
            } else {
                current.append(character)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    // MARK: tokenizer.json (HF WordLevel model, special tokens as added tokens)

    /// The top-level keys HF `tokenizers` accepts in tokenizer.json: it refuses a file with any
    /// other, so the codebook size is not written but read from the visual tokens.
    public static let tokenizerJSONKeys: Set<String> = [
        "version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "model",
        "post_processor", "decoder",
    ]

    public func tokenizerJSON() throws -> Data {
        var vocab: [String: Int] = [:]
        for (id, token) in tokens.enumerated() { vocab[token] = id }
        let added: [[String: Any]] = tokens.enumerated().filter { $0.element.hasPrefix("<|") }.map {
            ["id": $0.offset, "content": $0.element, "special": true, "single_word": false,
             "lstrip": false, "rstrip": false, "normalized": false]
        }
        let json: [String: Any] = [
            "version": "1.0",
            "added_tokens": added,
            "normalizer": ["type": "Lowercase"],
            "pre_tokenizer": ["type": "Sequence", "pretokenizers": [
                ["type": "WhitespaceSplit"],
                ["type": "Punctuation", "behavior": "Isolated"]]],
            "decoder": ["type": "WordPiece", "prefix": "##", "cleanup": true],
            "model": ["type": "WordLevel", "vocab": vocab, "unk_token": Self.unknownToken],
        ]
        return try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
    }

    public static func load(tokenizerJSON url: URL) throws -> ShapesVocabulary {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ShapesModelError.unreadable(url.path, reason: error.localizedDescription)
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = json["model"] as? [String: Any], model["type"] as? String == "WordLevel",
              let vocab = model["vocab"] as? [String: Int] else {
            throw ShapesModelError.invalid(url.lastPathComponent, reason: "not a ShapesWorld WordLevel tokenizer")
        }
        // The codebook is the visual tokens; files written before stop 44 also state its size
        // (`shapes_codebook_size`, a key HF tokenizers refuses), which must then agree.
        let size = vocab.keys.filter(isVisualTokenName).count
        if let stated = json["shapes_codebook_size"] {
            guard let stated = stated as? Int, stated == size else {
                throw ShapesModelError.invalid(url.lastPathComponent,
                                               reason: "shapes_codebook_size \(stated) but \(size) visual tokens")
            }
        }
        guard size > 0 else {
            throw ShapesModelError.invalid(url.lastPathComponent, reason: "no visual tokens (<|visual token 000000|> ...)")
        }
        var tokens = [String](repeating: "", count: vocab.count)
        for (token, id) in vocab {
            guard tokens.indices.contains(id), tokens[id].isEmpty else {
                throw ShapesModelError.invalid(url.lastPathComponent, reason: "token ids are not 0..<\(vocab.count) (id \(id))")
            }
            tokens[id] = token
        }
        let vocabulary = ShapesVocabulary(tokens: tokens, codebookSize: size)
        for name in structuralTokens + [unknownToken, assistantToken] + ActionVocabulary.addedTokens where vocabulary.ids[name] == nil {
            throw ShapesModelError.invalid(url.lastPathComponent, reason: "missing token \(name)")
        }
        // Codes map to ids by offset (`visualTokenRange`), so the visual tokens must be consecutive.
        let visual = (0..<size).map(visualTokenName)
        guard let first = vocabulary.ids[visual.first ?? ""],
              visual.enumerated().allSatisfy({ vocabulary.ids[$0.element] == first + $0.offset }) else {
            throw ShapesModelError.invalid(url.lastPathComponent,
                                           reason: "its \(size) visual tokens are missing or not consecutive ids in code order")
        }
        return vocabulary
    }
}

/// Word-level text <-> ids over a `ShapesVocabulary` (special-token strings in the text map to their ids).
public struct ShapesTokenizer: TextTokenizing {
    public let vocabulary: ShapesVocabulary
    public init(vocabulary: ShapesVocabulary) { self.vocabulary = vocabulary }

    public func encode(_ text: String) throws -> [Int] {
        var ids: [Int] = []
        for piece in text.components(separatedBy: " ") {
            if let id = vocabulary.ids[piece], piece.hasPrefix("<|") { ids.append(id); continue }
            ids += ShapesVocabulary.words(of: piece).map(vocabulary.id)
        }
        return ids
    }

    public func decode(_ ids: [Int], skipSpecialTokens: Bool) throws -> String {
        var text = ""
        for id in ids where vocabulary.tokens.indices.contains(id) {
            let token = vocabulary.tokens[id]
            if token.hasPrefix("<|") && skipSpecialTokens { continue }
            if !text.isEmpty && !".,?*:".contains(token) && !text.hasSuffix("*") { text += " " }
            text += token
        }
        return text
    }
}

public enum ShapesModelError: Error, CustomStringConvertible, Equatable {
    case unreadable(String, reason: String)
    case invalid(String, reason: String)
    case missingModel(String)
    case unknownWords(role: String, words: [String])

    public var description: String {
        switch self {
        case .unknownWords(let role, let words):
            return "\(role): the ShapesWorld model does not know " + words.map { "'\($0)'" }.joined(separator: ", ")
                + "; it speaks its world's words only, as in \"a small red circle above a large blue square\" or \"describe the image.\""
        case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
        case .invalid(let file, let reason): return "\(file): \(reason)"
        case .missingModel(let detail): return detail
        }
    }
}
