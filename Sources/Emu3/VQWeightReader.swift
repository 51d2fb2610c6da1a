import EmuTensor

/// Hands out a vision tokenizer's weights by their transformers name (`encoder.conv_in.weight`),
/// checking shapes, and remembers which were taken so that surplus weights can be reported.
struct VQWeightReader {
    private let tensors: [String: Tensor]
    private(set) var taken: Set<String> = []

    init(_ tensors: [String: Tensor]) { self.tensors = tensors }

    /// The float32 tensor `name`, which must have `shape` (nil: any shape).
    mutating func take(_ name: String, shape: [Int]? = nil) throws -> Tensor {
        guard let t = tensors[name] else { throw VisionTokenizerError.missingWeight(name) }
        if let shape, t.shape != shape {
            throw VisionTokenizerError.weightShape(name: name, expected: shape, found: t.shape)
        }
        taken.insert(name)
        return t.to(.float32)
    }

    func contains(_ name: String) -> Bool { tensors[name] != nil }

    /// Throws naming the first (sorted) weight nobody took.
    func checkAllTaken() throws {
        if let extra = tensors.keys.filter({ !taken.contains($0) }).sorted().first {
            throw VisionTokenizerError.unexpectedWeight(extra)
        }
    }
}
