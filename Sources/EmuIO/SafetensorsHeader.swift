import EmuTensor

/// Element types of the safetensors format, spelled as in the header.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32", f64 = "F64", i64 = "I64", u64 = "U64"
    case f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3", f8e8m0 = "F8_E8M0"
    case f4 = "F4", f6e2m3 = "F6_E2M3", f6e3m2 = "F6_E3M2", c64 = "C64"

    /// Bits per element (sub-byte float formats pack several elements per byte).
    public var bitSize: Int {
        switch self {
        case .f4: return 4
        case .f6e2m3, .f6e3m2: return 6
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3, .f8e8m0: return 8
        case .i16, .u16, .f16, .bf16: return 16
        case .i32, .u32, .f32: return 32
        case .f64, .i64, .u64, .c64: return 64
        }
    }

    /// The `DType` a tensor of this format type is loaded as: the same type where `Tensor` has
    /// it, else the narrowest one holding every value (F64 -> float32, I16/U16 -> int32,
    /// U32/U64 -> int64); nil for formats we do not decode.
    public var loadedDType: DType? {
        switch self {
        case .bool: return .bool
        case .u8: return .uint8
        case .i8: return .int8
        case .f16: return .float16
        case .bf16: return .bfloat16
        case .f32, .f64: return .float32
        case .i32, .i16, .u16: return .int32
        case .i64, .u32, .u64: return .int64
        case .f8e5m2, .f8e4m3, .f8e8m0, .f4, .f6e2m3, .f6e3m2, .c64: return nil
        }
    }

    /// The format type storing `dtype` unchanged.
    public init(_ dtype: DType) {
        switch dtype {
        case .float32: self = .f32
        case .float16: self = .f16
        case .bfloat16: self = .bf16
        case .int8: self = .i8
        case .uint8: self = .u8
        case .int32: self = .i32
        case .int64: self = .i64
        case .bool: self = .bool
        }
    }

    /// Rank in the Rust library's dtype ordering; its writer lays tensors out by descending rank
    /// (widest alignment first), then by name.
    var writeOrderRank: Int {
        switch self {
        case .bool: return 0
        case .f4: return 1
        case .f6e2m3: return 2
        case .f6e3m2: return 3
        case .u8: return 4
        case .i8: return 5
        case .f8e5m2: return 6
        case .f8e4m3: return 7
        case .f8e8m0: return 8
        case .i16: return 9
        case .u16: return 10
        case .f16: return 11
        case .bf16: return 12
        case .i32: return 13
        case .u32: return 14
        case .f32: return 15
        case .c64: return 16
        case .f64: return 17
        case .i64: return 18
        case .u64: return 19
        }
    }
}

/// One tensor's header entry. `dataOffsets` are relative to the start of the data section.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    public let dataOffsets: Range<Int>

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A parsed and validated header.
struct SafetensorsHeader {
    /// Entries in header order.
    var tensors: [SafetensorsTensorInfo]
    var metadata: [String: String]

    /// Files larger than this header size are refused, as by the Python library.
    static let maxHeaderLength = 100_000_000

    /// Parses `json` and checks every entry against a data section of `dataSize` bytes.
    static func parse(json: [UInt8], dataSize: Int, file: String) throws(SafetensorsError) -> SafetensorsHeader {
        let root: JSONValue
        do {
            root = try JSONParser.parse(json)
        } catch {
            throw SafetensorsError(file: file, .headerNotJSON(reason: "\(error)"))
        }
        guard case .object(let members) = root else { throw SafetensorsError(file: file, .headerNotObject) }

        var seen = Set<String>()
        var tensors: [SafetensorsTensorInfo] = []
        var metadata: [String: String] = [:]
        for (name, value) in members {
            guard seen.insert(name).inserted else { throw SafetensorsError(file: file, tensor: name, .duplicateName) }
            if name == "__metadata__" {
                metadata = try parseMetadata(value, file: file)
            } else {
                tensors.append(try parseEntry(name: name, value: value, dataSize: dataSize, file: file))
            }
        }
        try checkLayout(tensors, dataSize: dataSize, file: file)
        return SafetensorsHeader(tensors: tensors, metadata: metadata)
    }

    private static func parseMetadata(_ value: JSONValue, file: String) throws(SafetensorsError) -> [String: String] {
        if value == .null { return [:] }
        guard case .object(let members) = value else {
            throw SafetensorsError(file: file, .badMetadata(reason: "expected an object of strings, got \(value.kindName)"))
        }
        var result: [String: String] = [:]
        for (key, entry) in members {
            guard case .string(let text) = entry else {
                throw SafetensorsError(file: file, .badMetadata(reason: "value of \"\(key)\" is a \(entry.kindName), not a string"))
            }
            guard result.updateValue(text, forKey: key) == nil else {
                throw SafetensorsError(file: file, .badMetadata(reason: "key \"\(key)\" appears twice"))
            }
        }
        return result
    }

    private static func parseEntry(name: String, value: JSONValue, dataSize: Int,
                                   file: String) throws(SafetensorsError) -> SafetensorsTensorInfo {
        func malformed(_ reason: String) -> SafetensorsError {
            SafetensorsError(file: file, tensor: name, .malformedEntry(reason: reason))
        }
        guard case .object(let fields) = value else { throw malformed("expected an object, got \(value.kindName)") }
        var dtypeName: String?
        var shapeValue: [JSONValue]?
        var offsetsValue: [JSONValue]?
        for (key, field) in fields {
            switch key {
            case "dtype":
                guard dtypeName == nil, case .string(let s) = field else { throw malformed("\"dtype\" must be one string") }
                dtypeName = s
            case "shape":
                guard shapeValue == nil, case .array(let a) = field else { throw malformed("\"shape\" must be one array") }
                shapeValue = a
            case "data_offsets":
                guard offsetsValue == nil, case .array(let a) = field else { throw malformed("\"data_offsets\" must be one array") }
                offsetsValue = a
            default:
                continue  // Unknown fields are tolerated, as by the Python library.
            }
        }
        guard let dtypeName else { throw malformed("missing \"dtype\"") }
        guard let shapeValue else { throw malformed("missing \"shape\"") }
        guard let offsetsValue else { throw malformed("missing \"data_offsets\"") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw SafetensorsError(file: file, tensor: name, .unknownDType(dtypeName))
        }
        var shape: [Int] = []
        for dim in shapeValue {
            guard case .integer(let n) = dim, n >= 0 else { throw malformed("shape entries must be non-negative integers") }
            shape.append(n)
        }
        guard offsetsValue.count == 2, case .integer(let begin) = offsetsValue[0], case .integer(let end) = offsetsValue[1],
              begin >= 0, end >= begin else {
            throw malformed("\"data_offsets\" must be [begin, end] with 0 <= begin <= end")
        }
        guard end <= dataSize else {
            throw SafetensorsError(file: file, tensor: name, .offsetsBeyondData(begin: begin, end: end, dataSize: dataSize))
        }
        // product(shape) * bits, with overflow checks: a hostile shape must not trap.
        var bits = dtype.bitSize
        for dim in shape {
            let (product, overflow) = bits.multipliedReportingOverflow(by: dim)
            guard !overflow else {
                throw SafetensorsError(file: file, tensor: name, .valueOutOfRange(reason: "shape \(shape) is too large"))
            }
            bits = product
        }
        guard bits % 8 == 0 else { throw malformed("shape \(shape) of \(dtypeName) is not a whole number of bytes") }
        let expectedBytes = bits / 8
        guard expectedBytes == end - begin else {
            throw SafetensorsError(file: file, tensor: name, .sizeMismatch(
                shape: shape, dtype: dtypeName, expectedBytes: expectedBytes, actualBytes: end - begin))
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// Spans must tile [0, dataSize) exactly once, in some order (the Python library's rule).
    private static func checkLayout(_ tensors: [SafetensorsTensorInfo], dataSize: Int,
                                    file: String) throws(SafetensorsError) {
        let ordered = tensors.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound)
        }
        var end = 0
        var previous: SafetensorsTensorInfo?
        for info in ordered {
            let span = info.dataOffsets
            if span.lowerBound < end, let previous {
                throw SafetensorsError(file: file, tensor: info.name, .overlappingSpans(other: previous.name))
            }
            guard span.lowerBound == end else {
                throw SafetensorsError(file: file, tensor: info.name, .gapBeforeTensor(expectedBegin: end, begin: span.lowerBound))
            }
            end = span.upperBound
            if !span.isEmpty { previous = info }
        }
        guard end == dataSize else { throw SafetensorsError(file: file, .dataNotCovered(covered: end, dataSize: dataSize)) }
    }
}
