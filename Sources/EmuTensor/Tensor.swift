/// The one tensor type of swift-emu, for inference and training.
///
/// A tensor is a contiguous row-major view (`byteOffset`, `shape`, `dtype`) of a `TensorStorage`.
/// Storage is either owned or a read-only window into a memory-mapped file, so an 8.5B bf16
/// checkpoint opens without being copied. Ops never mutate their inputs; they return new tensors.
/// When autograd is recording (see `Autograd`), an op whose inputs take part in a graph attaches
/// an `AutogradNode` to its output.
public struct Tensor: Sendable {
    public let shape: [Int]
    public let dtype: DType
    public let storage: TensorStorage
    public let byteOffset: Int
    /// Non-nil when this tensor is part of a recorded autograd graph (a parameter or an op's output).
    public internal(set) var node: AutogradNode?

    public init(storage: TensorStorage, shape: [Int], dtype: DType, byteOffset: Int = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(byteOffset + Tensor.elementCount(shape) * dtype.byteSize <= storage.byteCount,
                     "tensor of shape \(shape) \(dtype) does not fit its storage")
        self.shape = shape
        self.dtype = dtype
        self.storage = storage
        self.byteOffset = byteOffset
        self.node = nil
    }

    /// A zero-filled tensor.
    public init(zeros shape: [Int], dtype: DType = .float32) {
        self.init(storage: TensorStorage(byteCount: Tensor.elementCount(shape) * dtype.byteSize),
                  shape: shape, dtype: dtype)
    }

    /// A float32 tensor holding `values` (count must equal the product of `shape`).
    public init(_ values: [Float], shape: [Int]) {
        precondition(values.count == Tensor.elementCount(shape), "\(values.count) values for shape \(shape)")
        self.init(zeros: shape, dtype: .float32)
        values.withUnsafeBufferPointer { src in
            mutableFloats.baseAddress!.update(from: src.baseAddress!, count: values.count)
        }
    }

    /// An int32 tensor holding `values`.
    public init(ints values: [Int32], shape: [Int]) {
        precondition(values.count == Tensor.elementCount(shape), "\(values.count) values for shape \(shape)")
        self.init(zeros: shape, dtype: .int32)
        let dst = rawPointer.assumingMemoryBound(to: Int32.self)
        values.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: values.count) }
    }

    /// A float32 scalar (shape `[]`).
    public init(scalar: Float) { self.init([scalar], shape: []) }

    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    public var count: Int { Tensor.elementCount(shape) }
    public var rank: Int { shape.count }
    public var byteCount: Int { count * dtype.byteSize }

    /// The first byte of this tensor's elements.
    public var rawPointer: UnsafeMutableRawPointer { storage.bytes + byteOffset }

    /// Read access to float32 elements. Traps on another dtype (a programming error).
    public var floats: UnsafeBufferPointer<Float> {
        precondition(dtype == .float32, "floats on a \(dtype) tensor; convert with to(.float32)")
        return UnsafeBufferPointer(start: rawPointer.assumingMemoryBound(to: Float.self), count: count)
    }

    /// Write access, for kernels filling a freshly allocated output.
    public var mutableFloats: UnsafeMutableBufferPointer<Float> {
        precondition(dtype == .float32, "mutableFloats on a \(dtype) tensor")
        precondition(!storage.isReadOnly, "writing into read-only (memory-mapped) storage")
        return UnsafeMutableBufferPointer(start: rawPointer.assumingMemoryBound(to: Float.self), count: count)
    }

    /// The elements as a Swift array of Float (any floating or integer dtype is converted).
    public func toArray() -> [Float] {
        let t = dtype == .float32 ? self : self.to(.float32)
        return Array(t.floats)
    }

    /// The elements as Int (integer dtypes only, or float holding integers).
    public func toIntArray() -> [Int] {
        switch dtype {
        case .int32: return UnsafeBufferPointer(start: rawPointer.assumingMemoryBound(to: Int32.self), count: count).map { Int($0) }
        case .int64: return UnsafeBufferPointer(start: rawPointer.assumingMemoryBound(to: Int64.self), count: count).map { Int($0) }
        case .uint8, .bool: return UnsafeBufferPointer(start: rawPointer.assumingMemoryBound(to: UInt8.self), count: count).map { Int($0) }
        case .int8: return UnsafeBufferPointer(start: rawPointer.assumingMemoryBound(to: Int8.self), count: count).map { Int($0) }
        default: return toArray().map { Int($0) }
        }
    }

    /// The single element of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item on a tensor of shape \(shape)")
        return toArray()[0]
    }

    /// A tensor with the same elements and a new shape (no copy). One dimension may be -1.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var dims = newShape
        if let i = dims.firstIndex(of: -1) {
            let known = dims.enumerated().filter { $0.offset != i }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newShape)")
            dims[i] = count / known
        }
        precondition(Tensor.elementCount(dims) == count, "cannot reshape \(shape) to \(newShape)")
        var out = Tensor(storage: storage, shape: dims, dtype: dtype, byteOffset: byteOffset)
        out = Autograd.record(out, inputs: [self]) { g in [g.reshaped(self.shape)] }
        return out
    }

    /// Rows `range` of the leading dimension, as a view (no copy).
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1 && range.lowerBound >= 0 && range.upperBound <= shape[0], "rows \(range) of \(shape)")
        let rowBytes = Tensor.elementCount(Array(shape.dropFirst())) * dtype.byteSize
        var dims = shape
        dims[0] = range.count
        let out = Tensor(storage: storage, shape: dims, dtype: dtype, byteOffset: byteOffset + range.lowerBound * rowBytes)
        let fullShape = shape
        return Autograd.record(out, inputs: [self]) { g in
            [Tensor.padRows(g, before: range.lowerBound, total: fullShape[0])]
        }
    }

    /// `g` placed at rows [before, before+g.shape[0]) of a zero tensor with `total` rows.
    static func padRows(_ g: Tensor, before: Int, total: Int) -> Tensor {
        var dims = g.shape
        dims[0] = total
        let out = Tensor(zeros: dims)
        let rowCount = Tensor.elementCount(Array(g.shape.dropFirst()))
        let src = g.to(.float32).floats
        (out.mutableFloats.baseAddress! + before * rowCount).update(from: src.baseAddress!, count: src.count)
        return out
    }

    /// A copy in fresh owned storage (detached from any graph).
    public func copy() -> Tensor {
        let out = Tensor(zeros: shape, dtype: dtype)
        out.rawPointer.copyMemory(from: rawPointer, byteCount: byteCount)
        return out
    }

    /// The same data without autograd history.
    public func detached() -> Tensor {
        var t = self
        t.node = nil
        return t
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = count <= 8 ? "\(toArray())" : "\(Array(toArray().prefix(8)))…"
        return "Tensor(\(shape), \(dtype)) \(preview)"
    }
}

extension Tensor {
    /// A float32 (or `dtype`) tensor whose elements are undefined: for kernels that write them all.
    public init(uninitialized shape: [Int], dtype: DType = .float32) {
        self.init(storage: TensorStorage(uninitializedByteCount: Tensor.elementCount(shape) * dtype.byteSize),
                  shape: shape, dtype: dtype)
    }

    /// The first float32 element (no bounds; for kernels).
    var floatPointer: UnsafeMutablePointer<Float> {
        precondition(dtype == .float32, "floatPointer on a \(dtype) tensor")
        return rawPointer.assumingMemoryBound(to: Float.self)
    }

    /// The first float32 element of a writable tensor (for kernels filling a fresh output).
    var mutableFloatPointer: UnsafeMutablePointer<Float> {
        precondition(!storage.isReadOnly, "writing into read-only (memory-mapped) storage")
        return floatPointer
    }
}
