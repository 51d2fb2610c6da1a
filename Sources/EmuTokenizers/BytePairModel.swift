import Foundation

/// The BPE merge loop, shared by tokenizer.json and tiktoken vocabularies.
///
/// A word arrives as initial symbol ids (one per byte or per character). Adjacent pairs are
/// merged lowest rank first, leftmost first among equal ranks, with a heap: the order of HF
/// `tokenizers`' `Word::merge_all`, which for tiktoken's rank tables (rank = merged id) is also
/// tiktoken's order. Results are cached per word.
final class BytePairModel: @unchecked Sendable {
    struct Merge: Sendable {
        var rank: Int32
        var id: Int32
    }

    /// (left id << 32 | right id) -> merge rank and resulting id.
    let merges: [UInt64: Merge]
    /// Whole-word shortcut (HF `ignore_merges`, and tiktoken's "the piece is a token" rule):
    /// word key -> id.
    let wholeWords: [[UInt8]: Int32]?

    private let lock = NSLock()
    private var cache: [[UInt8]: [Int32]] = [:]
    private let cacheLimit = 200_000

    init(merges: [UInt64: Merge], wholeWords: [[UInt8]: Int32]?) {
        self.merges = merges
        self.wholeWords = wholeWords
    }

    @inline(__always)
    static func pairKey(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }

    /// Encodes one word. `key` identifies the word (its bytes); `symbols` builds its initial
    /// symbols only on a cache miss.
    func encode(key: [UInt8], symbols: () -> [Int32], into out: inout [Int]) {
        if let whole = wholeWords?[key] {
            out.append(Int(whole))
            return
        }
        lock.lock()
        let cached = cache[key]
        lock.unlock()
        if let cached {
            for id in cached { out.append(Int(id)) }
            return
        }
        let result = merge(symbols())
        lock.lock()
        if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[key] = result
        lock.unlock()
        for id in result { out.append(Int(id)) }
    }

    /// The merge loop proper.
    func merge(_ initial: [Int32]) -> [Int32] {
        let n = initial.count
        if n < 2 { return initial }
        var ids = initial
        var prev = [Int32](unsafeUninitializedCapacity: n) { buf, count in
            for i in 0..<n { buf[i] = Int32(i - 1) }
            count = n
        }
        var next = [Int32](unsafeUninitializedCapacity: n) { buf, count in
            for i in 0..<n { buf[i] = i + 1 < n ? Int32(i + 1) : -1 }
            count = n
        }
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        for i in 0..<(n - 1) {
            if let m = merges[Self.pairKey(ids[i], ids[i + 1])] {
                heap.push(.init(rank: m.rank, position: Int32(i), id: m.id))
            }
        }
        while let top = heap.pop() {
            let p = Int(top.position)
            guard alive[p], next[p] >= 0 else { continue }
            let q = Int(next[p])
            // Skip entries made stale by an earlier merge.
            guard let m = merges[Self.pairKey(ids[p], ids[q])], m.id == top.id else { continue }
            ids[p] = top.id
            alive[q] = false
            next[p] = next[q]
            if next[q] >= 0 { prev[Int(next[q])] = Int32(p) }
            if prev[p] >= 0, let left = merges[Self.pairKey(ids[Int(prev[p])], ids[p])] {
                heap.push(.init(rank: left.rank, position: prev[p], id: left.id))
            }
            if next[p] >= 0, let right = merges[Self.pairKey(ids[p], ids[Int(next[p])])] {
                heap.push(.init(rank: right.rank, position: Int32(p), id: right.id))
            }
        }
        var out: [Int32] = []
        var i: Int32 = 0
        while i >= 0 {
            out.append(ids[Int(i)])
            i = next[Int(i)]
        }
        return out
    }
}

/// A binary min-heap of pending merges ordered by (rank, position).
private struct MergeHeap {
    struct Entry {
        var rank: Int32
        var position: Int32
        var id: Int32
        @inline(__always) func precedes(_ other: Entry) -> Bool {
            rank != other.rank ? rank < other.rank : position < other.position
        }
    }

    private var items: [Entry] = []

    mutating func push(_ e: Entry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].precedes(items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return first }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var best = i
            if l < items.count && items[l].precedes(items[best]) { best = l }
            if r < items.count && items[r].precedes(items[best]) { best = r }
            if best == i { break }
            items.swapAt(i, best)
            i = best
        }
        return first
    }
}
