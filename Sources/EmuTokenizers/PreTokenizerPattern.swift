/// The regular expressions that split text into words before BPE, implemented as hand-written
/// scanners over Unicode scalars. They reproduce the leftmost-first, backtracking semantics of
/// the regex engines (including the `\s+(?!\S)` lookahead) exactly, and run in linear time.
public enum PreTokenizerPattern: Sendable, Equatable {
    /// GPT-2's `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    /// (HF `ByteLevel` with `use_regex`).
    case gpt2
    /// Qwen's `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    /// (BAAI's `emu3.tiktoken`, Qwen2 tokenizer.json). Llama 3 is the same with `\p{N}{1,3}`.
    case qwen(maxDigits: Int)

    public static let qwen = PreTokenizerPattern.qwen(maxDigits: 1)

    public static let gpt2Source = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    public static let qwenSource = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    public static let llama3Source = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The scanner for a regex source text, if it is one we implement.
    public init?(regexSource: String) {
        switch regexSource {
        case Self.gpt2Source: self = .gpt2
        case Self.qwenSource: self = .qwen(maxDigits: 1)
        case Self.llama3Source: self = .qwen(maxDigits: 3)
        default: return nil
        }
    }

    /// The end offsets of the consecutive matches covering `text` (these patterns match every
    /// scalar, so the pieces tile the text).
    public func matchEnds(in text: [Unicode.Scalar]) -> [Int] {
        var ends: [Int] = []
        ends.reserveCapacity(text.count / 3 + 1)
        var i = 0
        while i < text.count {
            let end: Int
            switch self {
            case .gpt2: end = Self.gpt2Match(text, at: i)
            case let .qwen(maxDigits): end = Self.qwenMatch(text, at: i, maxDigits: maxDigits)
            }
            ends.append(end)
            i = end
        }
        return ends
    }

    /// The pieces of `text`, as the regex's `findall` would return them.
    public func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var start = 0
        return matchEnds(in: scalars).map { end in
            defer { start = end }
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: scalars[start..<end])
            return String(piece)
        }
    }

    // MARK: Scanners

    @inline(__always)
    private static func cls(_ s: [Unicode.Scalar], _ i: Int) -> ScalarClass? {
        i < s.count ? UnicodeClasses.classify(s[i]) : nil
    }

    /// Length of a contraction at `i` (`'s` ... `'d`), or 0.
    @inline(__always)
    private static func contraction(_ s: [Unicode.Scalar], at i: Int, caseInsensitive: Bool) -> Int {
        guard s[i] == "'", i + 1 < s.count else { return 0 }
        func lower(_ c: Unicode.Scalar) -> Unicode.Scalar {
            guard caseInsensitive else { return c }
            if c.value == 0x17F { return "s" }  // LATIN SMALL LETTER LONG S folds to s
            if c.value >= 0x41 && c.value <= 0x5A { return Unicode.Scalar(c.value + 32)! }
            return c
        }
        let a = lower(s[i + 1])
        switch a {
        case "s", "t", "m", "d": return 2
        case "r", "v":
            return i + 2 < s.count && lower(s[i + 2]) == "e" ? 3 : 0
        case "l":
            return i + 2 < s.count && lower(s[i + 2]) == "l" ? 3 : 0
        default: return 0
        }
    }

    @inline(__always)
    private static func run(_ s: [Unicode.Scalar], from i: Int, of c: ScalarClass) -> Int {
        var j = i
        while j < s.count && UnicodeClasses.classify(s[j]) == c { j += 1 }
        return j
    }

    /// `\s+(?!\S)|\s+` at a whitespace scalar: the whole run if it ends the text, otherwise the run
    /// minus its last scalar (left for the next word), or the single scalar.
    @inline(__always)
    private static func whitespaceMatch(_ s: [Unicode.Scalar], at i: Int) -> Int {
        let j = run(s, from: i, of: .whitespace)
        if j == s.count { return j }
        return j - 1 > i ? j - 1 : j
    }

    private static func gpt2Match(_ s: [Unicode.Scalar], at i: Int) -> Int {
        let c = s[i]
        let k = contraction(s, at: i, caseInsensitive: false)
        if k > 0 { return i + k }
        var cl = UnicodeClasses.classify(c)
        var j = i
        // ` ?X+` for X in letter, number, other: an optional ASCII space then a run.
        if c == " ", let next = cls(s, i + 1), next != .whitespace {
            j = i + 1
            cl = next
        }
        if cl != .whitespace { return run(s, from: j, of: cl) }
        return whitespaceMatch(s, at: i)
    }

    private static func qwenMatch(_ s: [Unicode.Scalar], at i: Int, maxDigits: Int) -> Int {
        let c = s[i]
        let k = contraction(s, at: i, caseInsensitive: true)
        if k > 0 { return i + k }
        let cl = UnicodeClasses.classify(c)
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if cl == .letter { return run(s, from: i, of: .letter) }
        if cl != .number, !UnicodeClasses.isNewline(c), cls(s, i + 1) == .letter {
            return run(s, from: i + 1, of: .letter)
        }
        // \p{N}{1,maxDigits}
        if cl == .number {
            var j = i + 1
            while j < s.count, j - i < maxDigits, UnicodeClasses.classify(s[j]) == .number { j += 1 }
            return j
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        var start: Int? = nil
        if cl == .other { start = i } else if c == " ", cls(s, i + 1) == .other { start = i + 1 }
        if let start {
            var j = run(s, from: start, of: .other)
            while j < s.count && UnicodeClasses.isNewline(s[j]) { j += 1 }
            return j
        }
        // Here c is whitespace. \s*[\r\n]+ : through the last newline of the whitespace run.
        let j = run(s, from: i, of: .whitespace)
        var p = j - 1
        while p >= i && !UnicodeClasses.isNewline(s[p]) { p -= 1 }
        if p >= i { return p + 1 }
        return whitespaceMatch(s, at: i)
    }
}
