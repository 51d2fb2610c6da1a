import EmuTensor

/// Keys and values of every decoder layer for one sequence, so decoding a token costs one
/// position's work instead of the whole prefix.
///
/// Each layer keeps preallocated float32 buffers laid out `[kvHeads, capacity, headDim]`: a head's
/// first `count` positions are contiguous, so attention reads them in place as `[1, 1, T, D]`
/// views. Appending past `capacity` reallocates (doubling), so a capacity guess only matters for
/// speed. A cache belongs to one sequence and is mutated by `Transformer.forward`; classifier-free
/// guidance keeps a second cache for its unconditional sequence (or starts one from `snapshot()`).
public final class KVCache {
    public let layerCount: Int
    public let kvHeads: Int
    public let headDim: Int
    /// Positions held (the next token's position).
    public private(set) var count: Int = 0
    /// Positions that fit before the buffers grow.
    public private(set) var capacity: Int
    private var keys: [Tensor]
    private var values: [Tensor]
    /// Positions written into each layer during the forward pass in progress.
    private var pending: [Int]

    public init(layerCount: Int, kvHeads: Int, headDim: Int, capacity: Int) {
        self.layerCount = layerCount
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.capacity = max(capacity, 1)
        let shape = [kvHeads, self.capacity, headDim]
        keys = (0..<layerCount).map { _ in Tensor(zeros: shape) }
        values = (0..<layerCount).map { _ in Tensor(zeros: shape) }
        pending = [Int](repeating: 0, count: layerCount)
    }

    /// An independent deep copy (for example to branch a sequence after a shared prefix).
    public func snapshot() -> KVCache {
        let copy = KVCache(layerCount: layerCount, kvHeads: kvHeads, headDim: headDim, capacity: capacity)
        copy.count = count
        copy.keys = keys.map { $0.copy() }
        copy.values = values.map { $0.copy() }
        return copy
    }

    /// Forgets every position (buffers are kept).
    public func removeAll() {
        count = 0
        pending = pending.map { _ in 0 }
    }

    /// Stores `key` and `value` ([1, kvHeads, S, headDim]) of `layer` at positions count..<count+S and
    /// returns views of all count+S positions, [1, 1, T, headDim] per KV head.
    func append(layer: Int, key: Tensor, value: Tensor) -> (keys: [Tensor], values: [Tensor]) {
        let s = key.shape[2]
        precondition(key.shape == [1, kvHeads, s, headDim] && value.shape == key.shape,
                     "KVCache.append: \(key.shape) for \(kvHeads) heads of \(headDim)")
        reserve(count + s)
        let rowBytes = headDim * MemoryLayout<Float>.size
        let (k, v) = (key.to(.float32), value.to(.float32))
        for head in 0..<kvHeads {
            let destination = (head * capacity + count) * rowBytes
            let source = head * s * rowBytes
            keys[layer].rawPointer.advanced(by: destination)
                .copyMemory(from: k.rawPointer.advanced(by: source), byteCount: s * rowBytes)
            values[layer].rawPointer.advanced(by: destination)
                .copyMemory(from: v.rawPointer.advanced(by: source), byteCount: s * rowBytes)
        }
        pending[layer] = s
        let total = count + s
        func views(_ buffer: Tensor) -> [Tensor] {
            (0..<kvHeads).map { head in
                Tensor(storage: buffer.storage, shape: [1, 1, total, headDim], dtype: .float32,
                       byteOffset: head * capacity * rowBytes)
            }
        }
        return (views(keys[layer]), views(values[layer]))
    }

    /// Makes the positions appended by the forward pass just finished part of the cache.
    func commit() {
        let added = pending[0]
        precondition(pending.allSatisfy { $0 == added }, "KVCache: layers appended different lengths")
        count += added
        pending = pending.map { _ in 0 }
    }

    /// Ensures room for `positions` positions, copying into larger buffers when needed.
    public func reserve(_ positions: Int) {
        guard positions > capacity else { return }
        let newCapacity = max(positions, capacity * 2)
        let rowBytes = headDim * MemoryLayout<Float>.size
        func grown(_ old: Tensor) -> Tensor {
            let fresh = Tensor(zeros: [kvHeads, newCapacity, headDim])
            for head in 0..<kvHeads {
                fresh.rawPointer.advanced(by: head * newCapacity * rowBytes)
                    .copyMemory(from: old.rawPointer.advanced(by: head * capacity * rowBytes),
                                byteCount: capacity * rowBytes)
            }
            return fresh
        }
        keys = keys.map(grown)
        values = values.map(grown)
        capacity = newCapacity
    }
}
