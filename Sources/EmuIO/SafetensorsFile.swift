import Foundation
import EmuTensor

/// A safetensors file opened for reading: the header parsed and validated up front, the data
/// memory-mapped, each tensor a zero-copy view of the file's bytes.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON (`{name: {dtype, shape,
/// data_offsets}, "__metadata__": {...}}`), then the data section the offsets point into.
public final class SafetensorsFile: Sendable {
    public let path: String
    /// Tensor entries in header order.
    public let tensorInfos: [SafetensorsTensorInfo]
    /// The `__metadata__` strings (empty when absent).
    public let metadata: [String: String]
    private let mapping: MappedFile
    private let dataStart: Int
    private let index: [String: Int]

    public init(path: String) throws(SafetensorsError) {
        self.path = path
        do {
            mapping = try MappedFile(path: path)
        } catch {
            throw SafetensorsError(file: path, .unreadable(reason: "\(error)"))
        }
        let bytes = mapping.bytes
        guard bytes.count >= 8 else { throw SafetensorsError(file: path, .fileTooShort(size: bytes.count)) }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw SafetensorsError(file: path, .headerLengthBeyondFile(headerLength: headerLength, fileSize: bytes.count))
        }
        guard headerLength <= UInt64(SafetensorsHeader.maxHeaderLength) else {
            throw SafetensorsError(file: path, .headerTooLarge(headerLength: headerLength, limit: SafetensorsHeader.maxHeaderLength))
        }
        let jsonEnd = 8 + Int(headerLength)
        let header = try SafetensorsHeader.parse(json: Array(bytes[8..<jsonEnd]), dataSize: bytes.count - jsonEnd, file: path)
        dataStart = jsonEnd
        tensorInfos = header.tensors
        metadata = header.metadata
        var index: [String: Int] = [:]
        for (i, info) in header.tensors.enumerated() { index[info.name] = i }
        self.index = index
    }

    public convenience init(url: URL) throws(SafetensorsError) { try self.init(path: url.path) }

    /// Tensor names in header order.
    public var names: [String] { tensorInfos.map(\.name) }

    public func contains(_ name: String) -> Bool { index[name] != nil }

    public func info(named name: String) throws(SafetensorsError) -> SafetensorsTensorInfo {
        guard let i = index[name] else { throw SafetensorsError(file: path, tensor: name, .tensorNotFound) }
        return tensorInfos[i]
    }

    /// The tensor `name`. Types `Tensor` has are returned as views of the mapped file (no copy,
    /// read-only), unless their bytes are misaligned for the element type, in which case they are
    /// copied; other decodable types are converted (see `SafetensorsDType.loadedDType`).
    public func tensor(named name: String) throws(SafetensorsError) -> Tensor {
        let info = try info(named: name)
        guard let dtype = info.dtype.loadedDType else {
            throw SafetensorsError(file: path, tensor: name, .unsupportedDType(info.dtype.rawValue))
        }
        let offset = dataStart + info.dataOffsets.lowerBound
        let byteCount = info.dataOffsets.count
        let storage = mapping.storage(offset: offset, byteCount: byteCount)
        let stored = SafetensorsDType(dtype)
        if stored == info.dtype {
            let view = Tensor(storage: storage, shape: info.shape, dtype: dtype)
            let aligned = Int(bitPattern: storage.bytes) % dtype.byteSize == 0
            return aligned ? view : view.copy()
        }
        return try SafetensorsConversion.widen(storage.bytes, info: info, to: dtype, file: path)
    }

    /// Every tensor, by name.
    public func allTensors() throws(SafetensorsError) -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for info in tensorInfos { result[info.name] = try tensor(named: info.name) }
        return result
    }
}

/// Loading of format types that `Tensor` lacks, by conversion into a fresh owned tensor.
enum SafetensorsConversion {
    static func widen(_ source: UnsafeRawPointer, info: SafetensorsTensorInfo, to dtype: DType,
                      file: String) throws(SafetensorsError) -> Tensor {
        let out = Tensor(zeros: info.shape, dtype: dtype)
        let n = info.elementCount
        let dst = out.rawPointer
        // loadUnaligned: the source may sit at any byte offset of the file.
        switch info.dtype {
        case .f64:
            let d = dst.assumingMemoryBound(to: Float.self)
            for i in 0..<n { d[i] = Float(source.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        case .i16:
            let d = dst.assumingMemoryBound(to: Int32.self)
            for i in 0..<n { d[i] = Int32(source.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
        case .u16:
            let d = dst.assumingMemoryBound(to: Int32.self)
            for i in 0..<n { d[i] = Int32(source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .u32:
            let d = dst.assumingMemoryBound(to: Int64.self)
            for i in 0..<n { d[i] = Int64(source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        case .u64:
            let d = dst.assumingMemoryBound(to: Int64.self)
            for i in 0..<n {
                let value = source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
                guard let narrowed = Int64(exactly: value) else {
                    throw SafetensorsError(file: file, tensor: info.name,
                                           .valueOutOfRange(reason: "U64 element \(i) = \(value) does not fit int64"))
                }
                d[i] = narrowed
            }
        default:
            throw SafetensorsError(file: file, tensor: info.name, .unsupportedDType(info.dtype.rawValue))
        }
        return out
    }
}
