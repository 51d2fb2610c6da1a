import Foundation

/// A byte-level BPE text tokenizer: HF `tokenizer.json` files (Emu3 `-hf` checkpoints) and
/// tiktoken rank files (BAAI's original `emu3.tiktoken` + `emu3_vision_tokens.txt`).
///
/// `encode` never adds BOS/EOS or other specials by itself (the sequence layout does that), so
/// `post_processor` templates are not applied. Special-token strings inside the text are always
/// recognised (HF's default; BAAI's `allowed_special="all"`).
public final class BPETokenizer: Sendable {
    /// An added token (HF `added_tokens`, or a tiktoken special).
    public struct AddedToken: Sendable, Equatable {
        public var content: String
        public var id: Int
        public var special: Bool
        public var leftStrip = false
        public var rightStrip = false
        /// Matched on the normalized text (HF `normalized`) instead of the raw text.
        public var normalized = false
    }

    enum Normalization: Sendable { case none, nfc }

    enum SplitBehavior: String, Sendable {
        case removed = "Removed", isolated = "Isolated", mergedWithPrevious = "MergedWithPrevious"
        case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
    }

    enum SplitMatcher: Sendable {
        case pattern(PreTokenizerPattern)
        case literal([Unicode.Scalar])
    }

    enum PreTokenizerStep: Sendable {
        case split(SplitMatcher, SplitBehavior, invert: Bool)
        /// Applied last: optional prefix space, optional GPT-2 split; the model then sees bytes.
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    }

    /// How a word becomes initial symbols for the merge loop.
    struct SymbolTable: Sendable {
        /// Byte-level: byte -> symbol id (-1 when the vocabulary lacks it).
        var byteSymbols: [Int32]?
        /// Character-level (no ByteLevel pre-tokenizer): character -> symbol id.
        var characterSymbols: [String: Int32]
        var byteFallback: Bool
        var unknownID: Int32?
        var fuseUnknown: Bool
    }

    /// Everything the loaders produce.
    struct Configuration: Sendable {
        var vocabulary: [String: Int]
        var merges: [UInt64: BytePairModel.Merge]
        var wholeWords: [[UInt8]: Int32]?
        var symbols: SymbolTable
        var addedTokens: [AddedToken]
        /// Applied to the whole text before added tokens are searched (BAAI applies NFC first).
        var textNormalization: Normalization
        /// Applied to the text between raw added tokens (HF `normalizer`).
        var segmentNormalization: Normalization
        var steps: [PreTokenizerStep]
        /// Bytes each id decodes to.
        var decodedBytes: [[UInt8]?]
        /// Token string shown for each id (vocabulary form).
        var tokenStrings: [String?]
    }

    private let configuration: Configuration
    private let model: BytePairModel
    private let rawTrie: AddedTokenTrie
    private let normalizedTrie: AddedTokenTrie
    /// Strip flags per added id: bit 0 left, bit 1 right.
    private let stripFlags: [Int: UInt8]
    private let specialIDs: Set<Int>

    init(configuration: Configuration) {
        self.configuration = configuration
        model = BytePairModel(merges: configuration.merges, wholeWords: configuration.wholeWords)
        var raw = AddedTokenTrie(), normalized = AddedTokenTrie()
        var flags: [Int: UInt8] = [:]
        var specials = Set<Int>()
        for token in configuration.addedTokens {
            if token.normalized {
                let content = configuration.segmentNormalization == .nfc
                    ? token.content.precomposedStringWithCanonicalMapping : token.content
                normalized.insert(content, id: token.id)
            } else {
                raw.insert(token.content, id: token.id)
            }
            let f: UInt8 = (token.leftStrip ? 1 : 0) | (token.rightStrip ? 2 : 0)
            if f != 0 { flags[token.id] = f }
            if token.special { specials.insert(token.id) }
        }
        rawTrie = raw
        normalizedTrie = normalized
        stripFlags = flags
        specialIDs = specials
    }

    // MARK: Vocabulary

    /// Number of ids (one more than the largest id).
    public var vocabularySize: Int { configuration.decodedBytes.count }

    /// Token string -> id, added tokens included. Byte-level tokens are in GPT-2's alphabet
    /// (`Ġthe`), for tiktoken vocabularies too.
    public var vocabulary: [String: Int] { configuration.vocabulary }

    /// The added and special tokens.
    public var addedTokens: [AddedToken] { configuration.addedTokens }

    public func id(for token: String) -> Int? { configuration.vocabulary[token] }

    public func token(for id: Int) -> String? {
        id >= 0 && id < configuration.tokenStrings.count ? configuration.tokenStrings[id] : nil
    }

    public func isSpecial(_ id: Int) -> Bool { specialIDs.contains(id) }

    // MARK: Encoding

    public func encode(_ text: String) -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(text.utf8.count / 3 + 1)
        let source = configuration.textNormalization == .nfc ? text.precomposedStringWithCanonicalMapping : text
        let scalars = Array(source.unicodeScalars)
        splitAddedTokens(scalars, trie: rawTrie, into: &out) { segment, out in
            encodeSegment(segment, into: &out)
        }
        return out
    }

    /// Splits at added tokens (with their lstrip/rstrip), emitting their ids and handing the text
    /// between them to `rest`.
    private func splitAddedTokens(
        _ text: [Unicode.Scalar], trie: AddedTokenTrie, into out: inout [Int],
        rest: (ArraySlice<Unicode.Scalar>, inout [Int]) -> Void
    ) {
        if trie.isEmpty {
            rest(text[...], &out)
            return
        }
        var segmentStart = 0
        var i = 0
        while i < text.count {
            guard let (end, id) = trie.longestMatch(in: text, at: i) else {
                i += 1
                continue
            }
            var start = i, stop = end
            if let flags = stripFlags[id] {
                if flags & 1 != 0 {
                    while start > segmentStart && UnicodeClasses.isWhitespace(text[start - 1]) { start -= 1 }
                }
                if flags & 2 != 0 {
                    while stop < text.count && UnicodeClasses.isWhitespace(text[stop]) { stop += 1 }
                }
            }
            if start > segmentStart { rest(text[segmentStart..<start], &out) }
            out.append(id)
            segmentStart = stop
            i = stop
        }
        if segmentStart < text.count { rest(text[segmentStart...], &out) }
    }

    private func encodeSegment(_ segment: ArraySlice<Unicode.Scalar>, into out: inout [Int]) {
        var scalars = Array(segment)
        if configuration.segmentNormalization == .nfc {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: segment)
            scalars = Array(String(view).precomposedStringWithCanonicalMapping.unicodeScalars)
        }
        splitAddedTokens(scalars, trie: normalizedTrie, into: &out) { piece, out in
            encodePlain(Array(piece), into: &out)
        }
    }

    /// Pre-tokenizes text free of added tokens and runs the model on each word.
    private func encodePlain(_ text: [Unicode.Scalar], into out: inout [Int]) {
        var pieces: [[Unicode.Scalar]] = [text]
        for step in configuration.steps {
            pieces = Self.apply(step, to: pieces)
        }
        for piece in pieces where !piece.isEmpty {
            var key: [UInt8] = []
            key.reserveCapacity(piece.count)
            for c in piece { key.append(contentsOf: UTF8.encode(c)!) }
            model.encode(key: key, symbols: { initialSymbols(piece, utf8: key) }, into: &out)
        }
    }

    private func initialSymbols(_ piece: [Unicode.Scalar], utf8: [UInt8]) -> [Int32] {
        let table = configuration.symbols
        var ids: [Int32] = []
        ids.reserveCapacity(utf8.count)
        var lastWasUnknown = false
        func fallback(_ unit: String) {
            if table.byteFallback {
                let bytes = unit.utf8.map { table.characterSymbols[String(format: "<0x%02X>", $0)] }
                if bytes.allSatisfy({ $0 != nil }) {
                    ids.append(contentsOf: bytes.map { $0! })
                    lastWasUnknown = false
                    return
                }
            }
            guard let unknown = table.unknownID else { return }  // HF drops the unit silently
            if !(table.fuseUnknown && lastWasUnknown) { ids.append(unknown) }
            lastWasUnknown = true
        }
        if let byteSymbols = table.byteSymbols {
            for b in utf8 {
                let id = byteSymbols[Int(b)]
                if id >= 0 {
                    ids.append(id)
                    lastWasUnknown = false
                } else {
                    fallback(String(Character(ByteLevelAlphabet.characters[Int(b)])))
                }
            }
        } else {
            for c in piece {
                if let id = table.characterSymbols[String(Character(c))] {
                    ids.append(id)
                    lastWasUnknown = false
                } else {
                    fallback(String(Character(c)))
                }
            }
        }
        return ids
    }

    static func apply(_ step: PreTokenizerStep, to pieces: [[Unicode.Scalar]]) -> [[Unicode.Scalar]] {
        var result: [[Unicode.Scalar]] = []
        result.reserveCapacity(pieces.count)
        for var piece in pieces where !piece.isEmpty {
            switch step {
            case let .byteLevel(addPrefixSpace, useRegex):
                if addPrefixSpace && piece.first != " " { piece.insert(" ", at: 0) }
                if useRegex {
                    var start = 0
                    for end in PreTokenizerPattern.gpt2.matchEnds(in: piece) {
                        result.append(Array(piece[start..<end]))
                        start = end
                    }
                } else {
                    result.append(piece)
                }
            case let .split(matcher, behavior, invert):
                for range in split(piece, matcher: matcher, behavior: behavior, invert: invert) {
                    result.append(Array(piece[range]))
                }
            }
        }
        return result
    }

    /// HF `Split`: the text tiled into (range, isMatch), then combined per `behavior`.
    static func split(
        _ text: [Unicode.Scalar], matcher: SplitMatcher, behavior: SplitBehavior, invert: Bool
    ) -> [Range<Int>] {
        var tiles: [(Range<Int>, Bool)] = []
        switch matcher {
        case let .pattern(pattern):
            var start = 0
            for end in pattern.matchEnds(in: text) {
                tiles.append((start..<end, true))
                start = end
            }
        case let .literal(needle):
            var last = 0, i = 0
            while !needle.isEmpty && i + needle.count <= text.count {
                if text[i..<(i + needle.count)].elementsEqual(needle) {
                    if i > last { tiles.append((last..<i, false)) }
                    tiles.append((i..<(i + needle.count), true))
                    i += needle.count
                    last = i
                } else {
                    i += 1
                }
            }
            if last < text.count { tiles.append((last..<text.count, false)) }
        }
        if invert { tiles = tiles.map { ($0.0, !$0.1) } }
        var out: [Range<Int>] = []
        var previousMatch = false
        switch behavior {
        case .isolated:
            out = tiles.map(\.0)
        case .removed:
            out = tiles.filter { !$0.1 }.map(\.0)
        case .mergedWithPrevious:
            for (range, isMatch) in tiles {
                if isMatch && !previousMatch, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<range.upperBound
                } else {
                    out.append(range)
                }
                previousMatch = isMatch
            }
        case .mergedWithNext:
            for (range, isMatch) in tiles.reversed() {
                if isMatch && !previousMatch, let last = out.last {
                    out[out.count - 1] = range.lowerBound..<last.upperBound
                } else {
                    out.append(range)
                }
                previousMatch = isMatch
            }
            out.reverse()
        case .contiguous:
            for (range, isMatch) in tiles {
                if isMatch == previousMatch, let last = out.last {
                    out[out.count - 1] = last.lowerBound..<range.upperBound
                } else {
                    out.append(range)
                }
                previousMatch = isMatch
            }
        }
        return out.filter { !$0.isEmpty }
    }

    // MARK: Decoding

    /// The text of `ids`. Invalid UTF-8 (e.g. a multi-byte character cut between ids) becomes
    /// U+FFFD, as in both references.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) throws -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids {
            guard id >= 0, id < configuration.decodedBytes.count, let b = configuration.decodedBytes[id] else {
                throw TokenizerError.unknownTokenID(id)
            }
            if skipSpecialTokens && specialIDs.contains(id) { continue }
            bytes.append(contentsOf: b)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
