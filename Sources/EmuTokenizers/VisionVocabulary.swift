import Foundation

/// The vision side of Emu3's vocabulary: visual codes <-> token ids, and the structural tokens of
/// image sequences, all looked up by name (config.json `vocabulary_map`, or a tokenizer's
/// vocabulary), never by hard-coded id.
///
/// Visual tokens are named `<|visual token 000123|>` in the real checkpoints and
/// `<|visual token000123|>` in transformers' tests; only the 6 digits matter.
public struct VisionVocabulary: Sendable, Equatable {
    /// The structural tokens, with their names in Emu3's vocabulary.
    public enum Role: String, CaseIterable, Sendable {
        case beginOfSequence = "<|extra_203|>"
        case endOfSequence = "<|extra_204|>"
        case padding = "<|endoftext|>"
        case endOfLine = "<|extra_200|>"
        case endOfFrame = "<|extra_201|>"
        case beginOfImage = "<|image start|>"
        case endOfImage = "<|image end|>"
        case image = "<|image token|>"
        /// The -hf processor's placeholder for an image in a chat prompt (`<|extra_0|>`'s id).
        case imagePlaceholder = "<image>"
    }

    public let bos: Int, eos: Int, pad: Int, eol: Int, eof: Int, boi: Int, eoi: Int, img: Int
    /// nil when the vocabulary has no `<image>` (BAAI's original tokenizer).
    public let imagePlaceholder: Int?
    /// `visualTokenIDs[code]` is the id of visual code `code`.
    public let visualTokenIDs: [Int]
    private let codeOfID: [Int: Int]

    /// - Parameter vocabulary: token name -> id (config `vocabulary_map`, or `BPETokenizer.vocabulary`).
    public init(vocabulary: [String: Int]) throws {
        func require(_ role: Role) throws -> Int {
            guard let id = vocabulary[role.rawValue] else {
                throw TokenizerError.missingToken(name: role.rawValue, role: "\(role)")
            }
            return id
        }
        bos = try require(.beginOfSequence)
        eos = try require(.endOfSequence)
        pad = try require(.padding)
        eol = try require(.endOfLine)
        eof = try require(.endOfFrame)
        boi = try require(.beginOfImage)
        eoi = try require(.endOfImage)
        img = try require(.image)
        imagePlaceholder = vocabulary[Role.imagePlaceholder.rawValue]

        var byCode: [Int: Int] = [:]
        for (name, id) in vocabulary where name.hasPrefix("<|visual token") {
            let code = try Self.visualCode(name)
            if let other = byCode.updateValue(id, forKey: code), other != id {
                throw TokenizerError.malformedVisualToken(name: name, reason: "code \(code) also has id \(other)")
            }
        }
        guard !byCode.isEmpty else {
            throw TokenizerError.missingToken(name: "<|visual token 000000|>", role: "visual")
        }
        var ids: [Int] = []
        ids.reserveCapacity(byCode.count)
        for code in 0..<byCode.count {
            guard let id = byCode[code] else {
                throw TokenizerError.malformedVisualToken(
                    name: String(format: "<|visual token %06d|>", code),
                    reason: "missing: codes must be 0..<\(byCode.count)")
            }
            ids.append(id)
        }
        visualTokenIDs = ids
        codeOfID = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
    }

    /// The code in a visual token's name: `<|visual token` + optional space + 6 digits + `|>`.
    public static func visualCode(_ name: String) throws -> Int {
        var rest = Substring(name)
        guard rest.hasPrefix("<|visual token"), rest.hasSuffix("|>") else {
            throw TokenizerError.malformedVisualToken(name: name, reason: "not of the form <|visual token NNNNNN|>")
        }
        rest = rest.dropFirst("<|visual token".count).dropLast(2)
        if rest.first == " " { rest = rest.dropFirst() }
        guard rest.count == 6, rest.allSatisfy({ $0.isASCII && $0.isNumber }), let code = Int(rest) else {
            throw TokenizerError.malformedVisualToken(name: name, reason: "expected 6 digits")
        }
        return code
    }

    public var codebookSize: Int { visualTokenIDs.count }

    /// The id of visual code `code`, or nil outside the codebook.
    public func id(forCode code: Int) -> Int? {
        code >= 0 && code < visualTokenIDs.count ? visualTokenIDs[code] : nil
    }

    /// The visual code of `id`, or nil if `id` is not a visual token.
    public func code(forID id: Int) -> Int? { codeOfID[id] }

    public func isVisual(_ id: Int) -> Bool { codeOfID[id] != nil }
}
