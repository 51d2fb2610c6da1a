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

    public var batchSize: Int { inputs.count }
    public var length: Int { inputs.first?.count ?? 0 }
    /// Tokens that carry weight (what tokens/s counts).
    public var supervisedTokenCount: Int { weights.reduce(0) { $0 + $1.filter { $0 > 0 }.count } }

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

public enum SequencePackingError: Error, CustomStringConvertible {
    case exampleTooLong(index: Int, length: Int, limit: Int)

    public var description: String {
        switch self {
        case let .exampleTooLong(i, n, limit):
            return "training example \(i) has \(n) tokens, more than the packed length \(limit) + 1; raise --sequence-length or shorten it"
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
        var ids: [Int] = [], weights: [Float] = [], noisable: [Bool] = [], starts: [Int] = []
        var anyNoisable = false
        func flush() {
            guard !ids.isEmpty else { return }
            let pad = length + 1 - ids.count
            var row = TrainingExample(ids: ids + Array(repeating: paddingID, count: pad),
                                      weights: weights + Array(repeating: 0, count: pad),
                                      noisable: anyNoisable ? noisable + Array(repeating: false, count: pad) : [])
            row.exampleStarts = pad > 0 ? starts + [ids.count] : starts
            rows.append(row)
            ids = []; weights = []; noisable = []; starts = []; anyNoisable = false
        }
        for (i, e) in examples.enumerated() {
            guard e.ids.count <= length + 1 else { throw SequencePackingError.exampleTooLong(index: i, length: e.ids.count, limit: length) }
            if ids.count + e.ids.count > length + 1 { flush() }
            starts.append(ids.count)
            ids += e.ids
            // The first token of an example is never predicted from the previous example.
            weights += [0] + e.weights.dropFirst()
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
                               exampleStarts: chunk.map(\.exampleStarts))
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
