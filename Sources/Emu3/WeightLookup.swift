import EmuTensor

/// Where model code gets its parameters: a name (a checkpoint key relative to `prefix`) to a
/// tensor. Wraps a dictionary, a memory-mapped checkpoint, or anything else that can answer by name,
/// and checks shapes so a wrong checkpoint fails with the tensor's name instead of a crash later.
public struct WeightLookup: Sendable {
    public let prefix: String
    private let fetch: @Sendable (String) throws -> Tensor?

    /// `fetch` returns nil for a missing name (reported as `WeightError.missing`).
    public init(prefix: String = "", _ fetch: @escaping @Sendable (String) throws -> Tensor?) {
        self.prefix = prefix
        self.fetch = fetch
    }

    public init(_ tensors: [String: Tensor], prefix: String = "") {
        self.init(prefix: prefix) { tensors[$0] }
    }

    /// The same source with `more` appended to the prefix.
    public func scoped(_ more: String) -> WeightLookup {
        WeightLookup(prefix: prefix + more, fetch)
    }

    /// The tensor named `prefix + name`, checked against `shape`.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        let fullName = prefix + name
        guard let t = try fetch(fullName) else { throw WeightError.missing(name: fullName) }
        guard t.shape == shape else { throw WeightError.shapeMismatch(name: fullName, expected: shape, found: t.shape) }
        guard t.dtype.isFloatingPoint else { throw WeightError.unsupportedType(name: fullName, dtype: t.dtype) }
        return t
    }
}

public enum WeightError: Error, Equatable, CustomStringConvertible {
    case missing(name: String)
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    case unsupportedType(name: String, dtype: DType)

    public var description: String {
        switch self {
        case .missing(let name): return "missing tensor '\(name)' in the checkpoint"
        case .shapeMismatch(let name, let expected, let found):
            return "tensor '\(name)' has shape \(found), expected \(expected)"
        case .unsupportedType(let name, let dtype): return "tensor '\(name)' has unsupported dtype \(dtype)"
        }
    }
}
