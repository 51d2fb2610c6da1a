import Foundation

/// Loading HF `tokenizer.json` (the `-hf` checkpoints' tokenizer). Supported: model `BPE`;
/// normalizer none or `NFC`; pre-tokenizer `ByteLevel`, `Split` (GPT-2 / Qwen / Llama 3 regex, or a
/// literal string) and `Sequence` of these with `ByteLevel` last; decoder `ByteLevel`. Anything else
/// is an error naming the field, never a silently different tokenization.
extension BPETokenizer {
    public convenience init(tokenizerJSON url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        try self.init(tokenizerJSONData: data, source: url.lastPathComponent)
    }

    public convenience init(tokenizerJSONData data: Data, source: String = "tokenizer.json") throws {
        let parser = TokenizerJSONParser(source: source)
        try self.init(configuration: parser.parse(data))
    }
}

private struct TokenizerJSONParser {
    let source: String

    private static let topLevelKeys: Set<String> = [
        "version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "model",
        "post_processor", "decoder",
    ]
    private static let modelKeys: Set<String> = [
        "type", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk",
        "byte_fallback", "ignore_merges", "vocab", "merges",
    ]

    func malformed(_ field: String, _ reason: String) -> TokenizerError {
        .malformedJSON(source: source, field: field, reason: reason)
    }

    func unsupported(_ field: String, _ value: Any) -> TokenizerError {
        .unsupported(source: source, field: field, value: "\(value)")
    }

    func parse(_ data: Data) throws -> BPETokenizer.Configuration {
        let root: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw malformed("(root)", "not a JSON object")
            }
            root = object
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw malformed("(root)", "invalid JSON: \(error.localizedDescription)")
        }
        for key in root.keys where !Self.topLevelKeys.contains(key) {
            throw unsupported(key, "(unknown top-level field)")
        }
        // `truncation` and `padding` only shape batches; transformers disables them on load too.

        guard let model = root["model"] else { throw TokenizerError.missingField(source: source, field: "model") }
        guard let model = model as? [String: Any] else { throw malformed("model", "not an object") }
        for key in model.keys where !Self.modelKeys.contains(key) {
            throw unsupported("model.\(key)", "(unknown field)")
        }
        let type = model["type"] as? String ?? "BPE"
        guard type == "BPE" else { throw unsupported("model.type", type) }
        if let dropout = model["dropout"], !(dropout is NSNull) {
            guard let d = dropout as? Double, d == 0 else { throw unsupported("model.dropout", dropout) }
        }
        for field in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let value = model[field], !(value is NSNull) {
                guard let s = value as? String, s.isEmpty else { throw unsupported("model.\(field)", value) }
            }
        }
        let fuseUnknown = try bool(model, "fuse_unk", field: "model.fuse_unk")
        let byteFallback = try bool(model, "byte_fallback", field: "model.byte_fallback")
        let ignoreMerges = try bool(model, "ignore_merges", field: "model.ignore_merges")

        guard let vocabObject = model["vocab"] else { throw TokenizerError.missingField(source: source, field: "model.vocab") }
        guard let vocabJSON = vocabObject as? [String: Any] else { throw malformed("model.vocab", "not an object") }
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(vocabJSON.count)
        for (token, value) in vocabJSON {
            guard let id = (value as? NSNumber)?.intValue, id >= 0 else {
                throw malformed("model.vocab[\"\(token)\"]", "id is not a non-negative integer")
            }
            vocabulary[token] = id
        }
        let merges = try parseMerges(model["merges"], vocabulary: vocabulary)

        var unknownID: Int32? = nil
        if let unk = model["unk_token"], !(unk is NSNull) {
            guard let name = unk as? String else { throw malformed("model.unk_token", "not a string") }
            guard let id = vocabulary[name] else { throw malformed("model.unk_token", "`\(name)` is not in the vocabulary") }
            unknownID = Int32(id)
        }

        let normalization = try parseNormalizer(root["normalizer"], field: "normalizer")
        let steps = try parsePreTokenizer(root["pre_tokenizer"], field: "pre_tokenizer")
        let byteLevel: Bool
        if case .byteLevel = steps.last { byteLevel = true } else { byteLevel = false }
        try checkDecoder(root["decoder"])
        try checkPostProcessor(root["post_processor"], field: "post_processor")
        let added = try parseAddedTokens(root["added_tokens"])

        // Vocabulary strings -> ids for the model's input units.
        var characterSymbols: [String: Int32] = [:]
        characterSymbols.reserveCapacity(vocabulary.count)
        for (token, id) in vocabulary { characterSymbols[token] = Int32(id) }
        var byteSymbols: [Int32]? = nil
        if byteLevel {
            byteSymbols = (0..<256).map { b in
                vocabulary[String(Character(ByteLevelAlphabet.characters[b]))].map(Int32.init) ?? -1
            }
        }
        var wholeWords: [[UInt8]: Int32]? = nil
        if ignoreMerges {
            var words: [[UInt8]: Int32] = [:]
            for (token, id) in vocabulary {
                if let key = byteLevel ? ByteLevelAlphabet.decode(token) : Array(token.utf8) { words[key] = Int32(id) }
            }
            wholeWords = words
        }

        // Decoding table: HF's ByteLevel decoder maps a token through the alphabet when every
        // character is in it, and otherwise keeps the token's own UTF-8 (added tokens like
        // `<|visual token 000001|>`, whose space is outside the alphabet).
        var all = vocabulary
        for token in added { all[token.content] = token.id }
        let size = (all.values.max() ?? -1) + 1
        var decodedBytes = [[UInt8]?](repeating: nil, count: size)
        var tokenStrings = [String?](repeating: nil, count: size)
        for (token, id) in vocabulary {
            decodedBytes[id] = ByteLevelAlphabet.decode(token) ?? Array(token.utf8)
            tokenStrings[id] = token
        }
        for token in added {
            decodedBytes[token.id] = ByteLevelAlphabet.decode(token.content) ?? Array(token.content.utf8)
            tokenStrings[token.id] = token.content
        }

        return BPETokenizer.Configuration(
            vocabulary: all, merges: merges, wholeWords: wholeWords,
            symbols: .init(byteSymbols: byteSymbols, characterSymbols: characterSymbols, byteFallback: byteFallback,
                           unknownID: unknownID, fuseUnknown: fuseUnknown),
            addedTokens: added, textNormalization: .none, segmentNormalization: normalization, steps: steps,
            decodedBytes: decodedBytes, tokenStrings: tokenStrings)
    }

    private func bool(_ object: [String: Any], _ key: String, field: String) throws -> Bool {
        guard let value = object[key], !(value is NSNull) else { return false }
        guard let b = value as? Bool else { throw malformed(field, "not a boolean") }
        return b
    }

    private func parseMerges(_ value: Any?, vocabulary: [String: Int]) throws -> [UInt64: BytePairModel.Merge] {
        guard let value else { throw TokenizerError.missingField(source: source, field: "model.merges") }
        guard let list = value as? [Any] else { throw malformed("model.merges", "not an array") }
        var merges: [UInt64: BytePairModel.Merge] = [:]
        merges.reserveCapacity(list.count)
        for (rank, entry) in list.enumerated() {
            let left: String, right: String
            if let line = entry as? String {
                // Legacy form "a b": tokens cannot contain a space in this form.
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw malformed("model.merges[\(rank)]", "`\(line)` is not two tokens") }
                left = String(parts[0])
                right = String(parts[1])
            } else if let pair = entry as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String {
                left = a
                right = b
            } else {
                throw malformed("model.merges[\(rank)]", "neither \"a b\" nor [\"a\", \"b\"]")
            }
            guard let a = vocabulary[left], let b = vocabulary[right], let merged = vocabulary[left + right] else {
                throw TokenizerError.invalidMerge(source: source, index: rank, merge: "\(left) \(right)")
            }
            merges[BytePairModel.pairKey(Int32(a), Int32(b))] = .init(rank: Int32(rank), id: Int32(merged))
        }
        return merges
    }

    private func type(of object: [String: Any], field: String) throws -> String {
        guard let type = object["type"] as? String else { throw TokenizerError.missingField(source: source, field: "\(field).type") }
        return type
    }

    private func parseNormalizer(_ value: Any?, field: String) throws -> BPETokenizer.Normalization {
        guard let value, !(value is NSNull) else { return .none }
        guard let object = value as? [String: Any] else { throw malformed(field, "not an object") }
        switch try type(of: object, field: field) {
        case "NFC": return .nfc
        case "Sequence":
            guard let list = object["normalizers"] as? [Any] else { throw TokenizerError.missingField(source: source, field: "\(field).normalizers") }
            var result = BPETokenizer.Normalization.none
            for (i, item) in list.enumerated() {
                if try parseNormalizer(item, field: "\(field).normalizers[\(i)]") == .nfc { result = .nfc }
            }
            return result
        case let other: throw unsupported("\(field).type", other)
        }
    }

    private func parsePreTokenizer(_ value: Any?, field: String) throws -> [BPETokenizer.PreTokenizerStep] {
        guard let value, !(value is NSNull) else { return [] }
        guard let object = value as? [String: Any] else { throw malformed(field, "not an object") }
        switch try type(of: object, field: field) {
        case "ByteLevel":
            let prefix = object["add_prefix_space"] as? Bool ?? true
            let useRegex = object["use_regex"] as? Bool ?? true
            return [.byteLevel(addPrefixSpace: prefix, useRegex: useRegex)]
        case "Split":
            return [try parseSplit(object, field: field)]
        case "Sequence":
            guard let list = object["pretokenizers"] as? [Any] else {
                throw TokenizerError.missingField(source: source, field: "\(field).pretokenizers")
            }
            var steps: [BPETokenizer.PreTokenizerStep] = []
            for (i, item) in list.enumerated() {
                if case .byteLevel = steps.last {
                    throw unsupported("\(field).pretokenizers[\(i)]", "a step after ByteLevel (ByteLevel must be last)")
                }
                steps += try parsePreTokenizer(item, field: "\(field).pretokenizers[\(i)]")
            }
            return steps
        case let other: throw unsupported("\(field).type", other)
        }
    }

    private func parseSplit(_ object: [String: Any], field: String) throws -> BPETokenizer.PreTokenizerStep {
        guard let pattern = object["pattern"] as? [String: Any] else {
            throw TokenizerError.missingField(source: source, field: "\(field).pattern")
        }
        let matcher: BPETokenizer.SplitMatcher
        if let regex = pattern["Regex"] as? String {
            guard let scanner = PreTokenizerPattern(regexSource: regex) else {
                throw unsupported("\(field).pattern.Regex", "`\(regex)` (only the GPT-2, Qwen and Llama 3 patterns)")
            }
            matcher = .pattern(scanner)
        } else if let literal = pattern["String"] as? String, !literal.isEmpty {
            matcher = .literal(Array(literal.unicodeScalars))
        } else {
            throw malformed("\(field).pattern", "expected {\"Regex\": ...} or a non-empty {\"String\": ...}")
        }
        guard let name = object["behavior"] as? String else { throw TokenizerError.missingField(source: source, field: "\(field).behavior") }
        guard let behavior = BPETokenizer.SplitBehavior(rawValue: name) else { throw unsupported("\(field).behavior", name) }
        return .split(matcher, behavior, invert: object["invert"] as? Bool ?? false)
    }

    private func checkDecoder(_ value: Any?) throws {
        guard let value, !(value is NSNull) else { throw TokenizerError.missingField(source: source, field: "decoder") }
        guard let object = value as? [String: Any] else { throw malformed("decoder", "not an object") }
        let type = try type(of: object, field: "decoder")
        guard type == "ByteLevel" else { throw unsupported("decoder.type", type) }
    }

    /// Post-processors only add specials on request, which `encode` never does.
    private func checkPostProcessor(_ value: Any?, field: String) throws {
        guard let value, !(value is NSNull) else { return }
        guard let object = value as? [String: Any] else { throw malformed(field, "not an object") }
        let type = try type(of: object, field: field)
        guard ["ByteLevel", "TemplateProcessing", "Sequence", "RobertaProcessing", "BertProcessing"].contains(type) else {
            throw unsupported("\(field).type", type)
        }
    }

    private func parseAddedTokens(_ value: Any?) throws -> [BPETokenizer.AddedToken] {
        guard let value, !(value is NSNull) else { return [] }
        guard let list = value as? [Any] else { throw malformed("added_tokens", "not an array") }
        var tokens: [BPETokenizer.AddedToken] = []
        tokens.reserveCapacity(list.count)
        for (i, item) in list.enumerated() {
            let field = "added_tokens[\(i)]"
            guard let object = item as? [String: Any] else { throw malformed(field, "not an object") }
            guard let id = (object["id"] as? NSNumber)?.intValue, id >= 0 else {
                throw TokenizerError.missingField(source: source, field: "\(field).id")
            }
            guard let content = object["content"] as? String, !content.isEmpty else {
                throw TokenizerError.missingField(source: source, field: "\(field).content")
            }
            if object["single_word"] as? Bool == true { throw unsupported("\(field).single_word", true) }
            let special = object["special"] as? Bool ?? false
            tokens.append(.init(
                content: content, id: id, special: special,
                leftStrip: object["lstrip"] as? Bool ?? false, rightStrip: object["rstrip"] as? Bool ?? false,
                // HF's default: non-special added tokens are matched on normalized text.
                normalized: object["normalized"] as? Bool ?? !special))
        }
        return tokens
    }
}
