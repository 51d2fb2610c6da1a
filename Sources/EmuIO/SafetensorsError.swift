/// What went wrong reading or writing a safetensors checkpoint; always names the file and, when
/// one is involved, the tensor.
public struct SafetensorsError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case unreadable(reason: String)
        /// Fewer than the 8 bytes of the header length.
        case fileTooShort(size: Int)
        case headerLengthBeyondFile(headerLength: UInt64, fileSize: Int)
        case headerTooLarge(headerLength: UInt64, limit: Int)
        case headerNotJSON(reason: String)
        case headerNotObject
        case malformedEntry(reason: String)
        case badMetadata(reason: String)
        case duplicateName
        case unknownDType(String)
        /// A dtype of the format this reader cannot turn into a `Tensor` (8-bit and sub-byte floats).
        case unsupportedDType(String)
        /// end - begin does not equal product(shape) * element size.
        case sizeMismatch(shape: [Int], dtype: String, expectedBytes: Int, actualBytes: Int)
        case offsetsBeyondData(begin: Int, end: Int, dataSize: Int)
        case overlappingSpans(other: String)
        /// Spans must tile the data section from 0 with no gap, as the Python library requires.
        case gapBeforeTensor(expectedBegin: Int, begin: Int)
        case dataNotCovered(covered: Int, dataSize: Int)
        case valueOutOfRange(reason: String)
        case tensorNotFound
        case badIndex(reason: String)
        case missingShard(shard: String)
        case tensorMissingFromShard(shard: String)
        case duplicateAcrossFiles(otherFile: String)
        case invalidTensorName(reason: String)
        case writeFailed(reason: String)
    }

    public let file: String
    public let tensor: String?
    public let kind: Kind

    public init(file: String, tensor: String? = nil, _ kind: Kind) {
        self.file = file
        self.tensor = tensor
        self.kind = kind
    }

    public var description: String {
        let place = tensor.map { "\(file), tensor \"\($0)\"" } ?? file
        return "\(place): \(problem)"
    }

    private var problem: String {
        switch kind {
        case .unreadable(let reason): return "cannot read file (\(reason))"
        case .fileTooShort(let size): return "file is \(size) bytes, too short for the 8-byte header length"
        case .headerLengthBeyondFile(let length, let size):
            return "header length \(length) runs beyond the end of the \(size)-byte file"
        case .headerTooLarge(let length, let limit): return "header length \(length) exceeds the \(limit)-byte limit"
        case .headerNotJSON(let reason): return "header is not valid JSON (\(reason))"
        case .headerNotObject: return "header is not a JSON object"
        case .malformedEntry(let reason): return "malformed header entry: \(reason)"
        case .badMetadata(let reason): return "bad __metadata__: \(reason)"
        case .duplicateName: return "name appears more than once in the header"
        case .unknownDType(let name): return "unknown dtype \"\(name)\""
        case .unsupportedDType(let name): return "dtype \(name) is not supported by this reader"
        case .sizeMismatch(let shape, let dtype, let expected, let actual):
            return "shape \(shape) of \(dtype) needs \(expected) bytes but data_offsets span \(actual)"
        case .offsetsBeyondData(let begin, let end, let size):
            return "data_offsets [\(begin), \(end)] lie outside the \(size)-byte data section"
        case .overlappingSpans(let other): return "data overlaps tensor \"\(other)\""
        case .gapBeforeTensor(let expected, let begin):
            return "data starts at \(begin) but the previous tensor ends at \(expected) (gap or unordered spans)"
        case .dataNotCovered(let covered, let size):
            return "tensors cover \(covered) bytes of the \(size)-byte data section"
        case .valueOutOfRange(let reason): return "value out of range: \(reason)"
        case .tensorNotFound: return "no such tensor"
        case .badIndex(let reason): return "bad index file: \(reason)"
        case .missingShard(let shard): return "shard \(shard) is missing"
        case .tensorMissingFromShard(let shard): return "listed in the index for shard \(shard) but absent from it"
        case .duplicateAcrossFiles(let other): return "also present in \(other)"
        case .invalidTensorName(let reason): return "invalid tensor name: \(reason)"
        case .writeFailed(let reason): return "write failed: \(reason)"
        }
    }
}
