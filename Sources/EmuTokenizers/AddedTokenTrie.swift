/// Finds added/special tokens (Emu3 has ~33k of them) in text in linear time: a trie over Unicode
/// scalars walked from each position, taking the longest token that starts there; the leftmost start wins, as
/// HF's leftmost-longest Aho-Corasick search and tiktoken's special-token search do.
public struct AddedTokenTrie: Sendable {
    /// A match: scalar range in the searched text and the token's id.
    public struct Match: Equatable, Sendable {
        public var range: Range<Int>
        public var id: Int
    }

    /// (node << 21 | scalar) -> child node.
    private var children: [UInt64: Int32] = [:]
    /// Token id ending at each node, or -1.
    private var terminal: [Int32] = [-1]
    /// Scalars that can start a token, for a quick skip (ASCII table, then a set).
    private var firstASCII = [Bool](repeating: false, count: 128)
    private var firstOther: Set<UInt32> = []

    public init() {}

    public init<S: Sequence>(_ tokens: S) where S.Element == (String, Int) {
        for (token, id) in tokens { insert(token, id: id) }
    }

    public var isEmpty: Bool { terminal.count == 1 }

    /// Adds a token; a later insert of the same string replaces the id.
    public mutating func insert(_ token: String, id: Int) {
        var node: Int32 = 0
        for c in token.unicodeScalars {
            let key = UInt64(node) << 21 | UInt64(c.value)
            if let child = children[key] {
                node = child
            } else {
                let child = Int32(terminal.count)
                terminal.append(-1)
                children[key] = child
                node = child
            }
        }
        guard node != 0 else { return }  // the empty string is never a token
        let first = token.unicodeScalars.first!.value
        if first < 128 { firstASCII[Int(first)] = true } else { firstOther.insert(first) }
        terminal[Int(node)] = Int32(id)
    }

    /// The longest token starting at `start`, as (end, id).
    @inline(__always)
    public func longestMatch(in text: [Unicode.Scalar], at start: Int) -> (end: Int, id: Int)? {
        let first = text[start].value
        guard first < 128 ? firstASCII[Int(first)] : firstOther.contains(first) else { return nil }
        var node: Int32 = 0
        var best: (Int, Int)? = nil
        var i = start
        while i < text.count, let child = children[UInt64(node) << 21 | UInt64(text[i].value)] {
            node = child
            i += 1
            let id = terminal[Int(node)]
            if id >= 0 { best = (i, Int(id)) }
        }
        return best
    }

    /// All non-overlapping leftmost-longest matches in `text`.
    public func matches(in text: [Unicode.Scalar]) -> [Match] {
        var out: [Match] = []
        if isEmpty { return out }
        var i = 0
        while i < text.count {
            if let (end, id) = longestMatch(in: text, at: i) {
                out.append(Match(range: i..<end, id: id))
                i = end
            } else {
                i += 1
            }
        }
        return out
    }

    public func matches(in text: String) -> [Match] {
        matches(in: Array(text.unicodeScalars))
    }
}
