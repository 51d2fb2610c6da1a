/// Element types a `Tensor` can hold. Compute is float32; half types are storage only
/// and are widened inside the kernels.
public enum DType: String, Sendable, Hashable, CaseIterable, Codable {
    case float32, float16, bfloat16, int8, uint8, int32, int64, bool

    public var byteSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16, .bfloat16: return 2
        case .int8, .uint8, .bool: return 1
        case .int64: return 8
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16: return true
        default: return false
        }
    }
}
