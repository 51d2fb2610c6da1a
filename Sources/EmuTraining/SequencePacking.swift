/// One training sequence: token ids and, per position, the weight of predicting that token
/// (weights[0] is unused: nothing predicts the first token). 0 masks, 0.5 is the paper's
/// vision-token weight, 1 is ordinary text.
public struct TrainingExample: Sendable, Equatable {
    public var ids: [Int]
    public var weights: [Float]
    /// Positions whose token the trainer may replace, as an input only, by another
    /// (`TrainingConfiguration.ContextNoise`); the target stays the true token. Empty: none.
    public var noisable: [Bool]
    /// In a packed row, where each example begins (`SequencePacker.pack` sets them; the padding
    /// tail counts as one more). Empty: the row is one example.
    public var exampleStarts: [Int] = []
    /// Where turns begin that each see only what precedes the first of them and themselves (a
    /// conversation's questions about one picture, each as if asked alone); empty: the example
    /// is one sequence. Increasing, after position 0. In a packed row, row positions of every
    /// example's turns. Honored when the trainer isolates examples; the packer leaves every later
    /// turn's first token unweighted either way.
    public var turnStarts: [Int] = []

    public init(ids: [Int], weights: [Float], noisable: [Bool] = []) {
        precondition(ids.count == weights.count, "\(ids.count) ids but \(weights.count) weights")
        precondition(noisable.isEmpty || noisable.count == ids.count, "\(ids.count) ids but \(noisable.count) noise flags")
        self.ids = ids
        self.weights = weights
        self.noisable = noisable
    }
}

/// A [batch, length] block ready for the model: inputs, next-token targets and their weights.
public struct PackedBatch: Sendable, Equatable {
    public var inputs: [[Int]]
    public var targets: [[Int]]
    public var weights: [[Float]]
    /// Per input position: may context noise replace it (empty rows: no position may).
    public var noisable: [[Bool]] = []
    /// Per row: the input positions where its packed examples begin (empty rows: one example).
    public var exampleStarts: [[Int]] = []
    /// Per row: the input positions where isolated turns begin (`TrainingExample.turnStarts`).
    public var turnStarts: [[Int]] = []

    public var batchSize: Int { inputs.count }
    public var length: Int { inputs.first?.count ?? 0 }
    /// Tokens that carry weight (what tokens/s counts).
    public var supervisedTokenCount: Int { weights.reduce(0) { $0 + $1.filter { $0 > 0 }.count } }

    /// What each position may attend to when examples (and their turns) are isolated: each turn
    /// after an example's first hides the turns before it and takes the RoPE positions it would
    /// have right after the shared prefix.
    public var isolatedLayout: AttentionLayout {
        let turns = turnStarts.contains { !$0.isEmpty }
        guard turns else { return AttentionLayout(firstVisibleKeys: firstVisiblePositions) }
        var hidden = [Int32](repeating: 0, count: 2 * batchSize * length)
        var positions = (0..<batchSize).map { _ in Array(0..<length) }
        for r in inputs.indices where r < turnStarts.count && !turnStarts[r].isEmpty {
            let starts = r < exampleStarts.count ? exampleStarts[r] : []
            // Turns grouped by the example they belong to; a turn ends where the next turn or example begins.
            var groups: [Int: [Int]] = [:]
            for t in turnStarts[r] { groups[starts.last { $0 <= t } ?? 0, default: []].append(t) }
            for (exampleStart, turns) in groups {
                let exampleEnd = starts.first { $0 > exampleStart } ?? length
                for (k, start) in turns.enumerated().dropFirst() where start < length {
                    let end = min(k + 1 < turns.count ? turns[k + 1] : exampleEnd, length)
                    for i in start..<end {
                        hidden[2 * (r * length + i)] = Int32(turns[0])
                        hidden[2 * (r * length + i) + 1] = Int32(start)
                        positions[r][i] = i - (start - turns[0])
                    }
                }
            }
        }
        return AttentionLayout(firstVisibleKeys: firstVisiblePositions, hiddenKeys: hidden, positions: positions)
    }

    /// Per input position (row-major), the first position it may attend to: the start of the
    /// example it belongs to, so that packed examples do not see one another.
    public var firstVisiblePositions: [Int32] {
        inputs.indices.flatMap { r -> [Int32] in
            var out = [Int32](repeating: 0, count: length)
            let starts = r < exampleStarts.count ? exampleStarts[r] : []
            for (n, start) in starts.enumerated() where start < length {
                // Starts out of order would be a packer bug; they then cover nothing rather than trap.
                let end = max(start, n + 1 < starts.count ? min(starts[n + 1], length) : length)
                for i in start..<end { out[i] = Int32(start) }
            }
            return out
        }
    }
}

/// What each input of a [batch, length] block may attend to, and where it sits for RoPE.
public struct AttentionLayout: Sendable, Equatable {
    /// [batch * length]: the first position each input may attend to.
    public var firstVisibleKeys: [Int32]
    /// nil, or [batch * length * 2]: per input a range start..<end of positions hidden from it
    /// (the turns of a conversation before its own).
    public var hiddenKeys: [Int32]?
    /// nil, or per row the RoPE position of each input (nil: its index), so that a turn sits
    /// right after the shared prefix, as when asked alone.
    public var positions: [[Int]]?

    public init(firstVisibleKeys: [Int32], hiddenKeys: [Int32]? = nil, positions: [[Int]]? = nil) {
        self.firstVisibleKeys = firstVisibleKeys
        self.hiddenKeys = hiddenKeys
        self.positions = positions
    }
}

public enum SequencePackingError: Error, CustomStringConvertible {
    case exampleTooLong(index: Int, length: Int, limit: Int)
    case invalidTurns(index: Int, turnStarts: [Int], length: Int)

    public var description: String {
        switch self {
        case let .exampleTooLong(i, n, limit):
            return "training example \(i) has \(n) tokens, more than the packed length \(limit) + 1; raise --sequence-length or shorten it"
        case let .invalidTurns(i, turns, n):
            return "training example \(i) has turns starting at \(turns), not increasing positions between 1 and its \(n) tokens"
        }
    }
}

/// Packs examples back to back into rows of `length + 1` tokens (inputs are the first `length`,
/// targets the last `length`), never splitting an example across rows; the tail of a row is
/// padding with weight 0.
public struct SequencePacker: Sendable {
    public let length: Int
    public let paddingID: Int

    public init(length: Int, paddingID: Int) {
        self.length = length
        self.paddingID = paddingID
    }

    /// Rows in input order (first fit, in sequence).
    public func pack(_ examples: [TrainingExample]) throws -> [TrainingExample] {
        var rows: [TrainingExample] = []
        var ids: [Int] = [], weights: [Float] = [], noisable: [Bool] = [], starts: [Int] = [], turns: [Int] = []
        var anyNoisable = false
        func flush() {
            guard !ids.isEmpty else { return }
            let pad = length + 1 - ids.count
            var row = TrainingExample(ids: ids + Array(repeating: paddingID, count: pad),
                                      weights: weights + Array(repeating: 0, count: pad),
                                      noisable: anyNoisable ? noisable + Array(repeating: false, count: pad) : [])
            row.exampleStarts = pad > 0 ? starts + [ids.count] : starts
            row.turnStarts = turns
            rows.append(row)
            ids = []; weights = []; noisable = []; starts = []; turns = []; anyNoisable = false
        }
        for (i, e) in examples.enumerated() {
            guard e.ids.count <= length + 1 else { throw SequencePackingError.exampleTooLong(index: i, length: e.ids.count, limit: length) }
            guard zip(e.turnStarts, e.turnStarts.dropFirst()).allSatisfy({ $0 < $1 }),
                  (e.turnStarts.first ?? 1) > 0, (e.turnStarts.last ?? 0) < e.ids.count else {
                throw SequencePackingError.invalidTurns(index: i, turnStarts: e.turnStarts, length: e.ids.count)
            }
            if ids.count + e.ids.count > length + 1 { flush() }
            starts.append(ids.count)
            // The first token of an example is never predicted from the previous example, nor the
            // first of a later turn from the turn before it (which it does not see).
            var own: [Float] = [0] + e.weights.dropFirst()
            for t in e.turnStarts.dropFirst() { own[t] = 0 }
            turns += e.turnStarts.map { ids.count + $0 }
            ids += e.ids
            weights += own
            noisable += e.noisable.isEmpty ? Array(repeating: false, count: e.ids.count) : e.noisable
            anyNoisable = anyNoisable || e.noisable.contains(true)
        }
        flush()
        return rows
    }

    /// Splits rows into model inputs and shifted targets, `batchSize` rows at a time.
    public func batches(_ rows: [TrainingExample], batchSize: Int) -> [PackedBatch] {
        stride(from: 0, to: rows.count, by: batchSize).map { start in
            let chunk = rows[start..<min(start + batchSize, rows.count)]
            return PackedBatch(inputs: chunk.map { Array($0.ids.dropLast()) },
                               targets: chunk.map { Array($0.ids.dropFirst()) },
                               weights: chunk.map { Array($0.weights.dropFirst()) },
                               noisable: chunk.map { $0.noisable.isEmpty ? [] : Array($0.noisable.dropLast()) },
                               exampleStarts: chunk.map(\.exampleStarts),
                               turnStarts: chunk.map(\.turnStarts))
        }
    }
}

/// SplitMix64: small, fast, seedable; the trainer's only source of randomness.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    /// The whole state: `SeededGenerator(seed: g.state)` continues the sequence where `g` is (checkpoints).
    public var currentState: UInt64 { state }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1) from the top 53 bits.
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

extension Array {
    /// The same permutation for the same (seed, epoch) on every machine.
    public func deterministicallyShuffled(seed: UInt64, epoch: Int) -> [Element] {
        var g = SeededGenerator(seed: seed &+ UInt64(bitPattern: Int64(epoch)) &* 0x2545_F491_4F6C_DD1D)
        var out = self
        guard out.count > 1 else { return out }
        for i in stride(from: out.count - 1, to: 0, by: -1) {
            let j = Int(g.next() % UInt64(i + 1))
            out.swapAt(i, j)
        }
        return out
    }
}
