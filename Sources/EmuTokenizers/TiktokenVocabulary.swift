import Foundation

/// Loading BAAI's original Emu3 tokenizer: a tiktoken rank file (`emu3.tiktoken`, one
/// `base64(token bytes) rank` per line) and `emu3_vision_tokens.txt`.
///
/// How BAAI's `Emu3Tokenizer` assigns ids (read from baaivision/Emu3 `emu3/mllm/tokenization_emu3.py`):
/// - ranks are the ids of the byte-level tokens (0..<151643 in the real file);
/// - specials follow at a fixed start (151643 there, which its own assertion requires to equal the
///   number of ranks), in this order: `<|endoftext|>`, `<|im_start|>`, `<|im_end|>`,
///   `<|extra_0|>` ... `<|extra_204|>` (208 Qwen-style specials), then every non-empty line of
///   `emu3_vision_tokens.txt` (stripped) in file order: `<|image token|>`, `<|image start|>`,
///   `<|image end|>`, `<|visual token 000000|>` ... `<|visual token 032767|>`;
/// - text is NFC-normalized, then special-token strings anywhere in it are recognised
///   (`allowed_special="all"`), and the rest is split with the Qwen pattern;
/// - `skip_special_tokens` keeps only ids below `<|endoftext|>`'s, so every special is skipped.
extension BPETokenizer {
    /// The Qwen-style specials that precede the vision-token file's lines.
    public static let qwenSpecialTokens: [String] =
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + (0..<205).map { "<|extra_\($0)|>" }

    /// - Parameters:
    ///   - tiktokenFile: the rank file.
    ///   - visionTokensFile: BAAI's `emu3_vision_tokens.txt`, or nil for none.
    ///   - specialTokens: the specials before the vision tokens (default: Qwen's 208).
    ///   - firstSpecialID: id of the first special; default one past the largest rank.
    ///   - pattern: the pre-tokenizer (default Qwen's).
    public convenience init(
        tiktokenFile: URL, visionTokensFile: URL?, specialTokens: [String] = BPETokenizer.qwenSpecialTokens,
        firstSpecialID: Int? = nil, pattern: PreTokenizerPattern = .qwen
    ) throws {
        let ranks = try Self.readRanks(tiktokenFile)
        var specials = specialTokens
        if let visionTokensFile { specials += try Self.readVisionTokens(visionTokensFile) }
        try self.init(ranks: ranks, specialTokens: specials, firstSpecialID: firstSpecialID, pattern: pattern,
                      source: tiktokenFile.lastPathComponent)
    }

    /// From ranks already in memory: `ranks[i]` is the bytes of the token with id `i`.
    public convenience init(
        ranks: [[UInt8]], specialTokens: [String], firstSpecialID: Int? = nil, pattern: PreTokenizerPattern = .qwen,
        source: String = "tiktoken ranks"
    ) throws {
        var rankOf: [[UInt8]: Int32] = [:]
        rankOf.reserveCapacity(ranks.count)
        for (rank, bytes) in ranks.enumerated() {
            if rankOf.updateValue(Int32(rank), forKey: bytes) != nil {
                throw TokenizerError.inconsistentIDs(source: source, reason: "token with rank \(rank) appears twice")
            }
        }
        var byteSymbols = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            guard let rank = rankOf[[UInt8(b)]] else {
                throw TokenizerError.inconsistentIDs(source: source, reason: "no token for the single byte \(b)")
            }
            byteSymbols[b] = rank
        }
        // A pair merges when its concatenation is a token; its rank is that token's.
        var merges: [UInt64: BytePairModel.Merge] = [:]
        merges.reserveCapacity(ranks.count * 2)
        for (rank, bytes) in ranks.enumerated() where bytes.count >= 2 {
            for cut in 1..<bytes.count {
                if let a = rankOf[Array(bytes[..<cut])], let b = rankOf[Array(bytes[cut...])] {
                    merges[BytePairModel.pairKey(a, b)] = .init(rank: Int32(rank), id: Int32(rank))
                }
            }
        }
        let first = firstSpecialID ?? ranks.count
        guard first >= ranks.count else {
            throw TokenizerError.inconsistentIDs(source: source, reason: "first special id \(first) collides with the \(ranks.count) ranks")
        }
        var vocabulary: [String: Int] = [:]
        var tokenStrings = [String?](repeating: nil, count: first + specialTokens.count)
        var decodedBytes = [[UInt8]?](repeating: nil, count: first + specialTokens.count)
        for (rank, bytes) in ranks.enumerated() {
            let name = ByteLevelAlphabet.encode(bytes)
            vocabulary[name] = rank
            tokenStrings[rank] = name
            decodedBytes[rank] = bytes
        }
        var added: [AddedToken] = []
        for (i, special) in specialTokens.enumerated() {
            let id = first + i
            if vocabulary[special].map({ $0 >= first }) == true {
                throw TokenizerError.inconsistentIDs(source: source, reason: "special token `\(special)` listed twice")
            }
            vocabulary[special] = id
            tokenStrings[id] = special
            decodedBytes[id] = Array(special.utf8)
            added.append(AddedToken(content: special, id: id, special: true))
        }
        self.init(configuration: Configuration(
            vocabulary: vocabulary, merges: merges, wholeWords: rankOf,
            symbols: SymbolTable(byteSymbols: byteSymbols, characterSymbols: [:], byteFallback: false, unknownID: nil,
                                 fuseUnknown: false),
            addedTokens: added, textNormalization: .nfc, segmentNormalization: .none,
            steps: [.split(.pattern(pattern), .isolated, invert: false)],
            decodedBytes: decodedBytes, tokenStrings: tokenStrings))
    }

    /// Reads a tiktoken rank file into `ranks[id] = bytes`; ranks must be exactly 0..<n.
    public static func readRanks(_ url: URL) throws -> [[UInt8]] {
        let text = try readText(url)
        var byRank: [Int: [UInt8]] = [:]
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            let fields = trimmed.split(separator: " ")
            guard fields.count == 2, let rank = Int(fields[1]), rank >= 0 else {
                throw TokenizerError.malformedLine(path: url.path, line: lineNumber, reason: "expected `base64 rank`")
            }
            guard let bytes = Data(base64Encoded: String(fields[0])) else {
                throw TokenizerError.malformedLine(path: url.path, line: lineNumber, reason: "invalid base64 `\(fields[0])`")
            }
            if byRank.updateValue([UInt8](bytes), forKey: rank) != nil {
                throw TokenizerError.malformedLine(path: url.path, line: lineNumber, reason: "rank \(rank) repeated")
            }
        }
        var ranks: [[UInt8]] = []
        ranks.reserveCapacity(byRank.count)
        for rank in 0..<byRank.count {
            guard let bytes = byRank[rank] else {
                throw TokenizerError.inconsistentIDs(source: url.path, reason: "ranks are not 0..<\(byRank.count): \(rank) is missing")
            }
            ranks.append(bytes)
        }
        return ranks
    }

    /// BAAI's vision-token file: every non-empty line, stripped, in order.
    public static func readVisionTokens(_ url: URL) throws -> [String] {
        try readText(url).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    static func readText(_ url: URL) throws -> String {
        do {
            let data = try Data(contentsOf: url)
            guard let text = String(data: data, encoding: .utf8) else {
                throw TokenizerError.unreadableFile(path: url.path, reason: "not UTF-8")
            }
            return text
        } catch let error as TokenizerError {
            throw error
        } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
    }
}
