#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EmuTensor
import Foundation

/// Writes tensors in the safetensors format, byte for byte as the Python `safetensors` library
/// does: tensors laid out by descending dtype width then by name, compact JSON header with
/// `__metadata__` first, padded with spaces so the data section starts 8-byte aligned.
public enum SafetensorsWriter {
    /// The header bytes (length prefix included) and the tensors in data order.
    static func layout(_ tensors: [String: Tensor], metadata: [String: String]?,
                       file: String) throws(SafetensorsError) -> (header: [UInt8], order: [(String, Tensor)]) {
        for name in tensors.keys where name == "__metadata__" {
            throw SafetensorsError(file: file, tensor: name, .invalidTensorName(reason: "reserved for the metadata"))
        }
        let order = tensors.sorted { a, b in
            let ra = SafetensorsDType(a.value.dtype).writeOrderRank, rb = SafetensorsDType(b.value.dtype).writeOrderRank
            // Rust compares names as bytes; Swift's String `<` is by unicode scalars, which orders UTF-8 alike.
            return ra != rb ? ra > rb : Array(a.key.utf8).lexicographicallyPrecedes(Array(b.key.utf8))
        }
        var members: [(key: String, value: JSONValue)] = []
        if let metadata {
            let fields = metadata.keys.sorted().map { (key: $0, value: JSONValue.string(metadata[$0]!)) }
            members.append((key: "__metadata__", value: .object(fields)))
        }
        var offset = 0
        for (name, tensor) in order {
            let end = offset + tensor.byteCount
            members.append((key: name, value: .object([
                (key: "dtype", value: .string(SafetensorsDType(tensor.dtype).rawValue)),
                (key: "shape", value: .array(tensor.shape.map { .integer($0) })),
                (key: "data_offsets", value: .array([.integer(offset), .integer(end)])),
            ])))
            offset = end
        }
        var json = Array(JSONWriter.serialize(.object(members)).utf8)
        json.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - json.count % 8) % 8))
        var header = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        header.append(contentsOf: json)
        return (header, order)
    }

    /// The whole file as bytes (for small tensors and tests).
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String]? = nil) throws(SafetensorsError) -> [UInt8] {
        let (header, order) = try layout(tensors, metadata: metadata, file: "<memory>")
        var bytes = header
        for (_, tensor) in order {
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: tensor.rawPointer, count: tensor.byteCount))
        }
        return bytes
    }

    /// Writes `tensors` to `path` atomically: a temporary file in the same folder is written,
    /// fsynced and renamed over `path`, then the folder is fsynced. A reader sees the old file or
    /// the complete new one, never a torn write. Tensors are streamed, not copied into one buffer.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String]? = nil,
                             to path: String) throws(SafetensorsError) {
        let (header, order) = try layout(tensors, metadata: metadata, file: path)
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp").path
        func failure(_ what: String) -> SafetensorsError {
            SafetensorsError(file: path, .writeFailed(reason: "\(what): \(String(cString: strerror(errno)))"))
        }

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw failure("cannot create \(temporary)") }
        var committed = false
        defer {
            if !committed { unlink(temporary) }
        }
        do {
            defer { close(fd) }
            guard header.withUnsafeBytes({ writeAll(fd, $0.baseAddress!, $0.count) }) else { throw failure("write") }
            for (_, tensor) in order where tensor.byteCount > 0 {
                guard writeAll(fd, tensor.rawPointer, tensor.byteCount) else { throw failure("write") }
            }
            guard fsync(fd) == 0 else { throw failure("fsync") }
        }
        guard rename(temporary, path) == 0 else { throw failure("rename onto \(path)") }
        committed = true
        // Make the rename itself durable.
        let dirFD = open(folder, O_RDONLY | O_CLOEXEC)
        if dirFD >= 0 {
            defer { close(dirFD) }
            guard fsync(dirFD) == 0 else { throw failure("fsync of folder \(folder)") }
        }
    }

    /// Writes all `count` bytes; false on failure with `errno` set.
    private static func writeAll(_ fd: Int32, _ start: UnsafeRawPointer, _ count: Int) -> Bool {
        var done = 0
        while done < count {
            // Bounded chunks: some systems reject single writes above 2 GiB.
            #if canImport(Glibc)
            let n = Glibc.write(fd, start + done, min(count - done, 1 << 30))
            #else
            let n = Darwin.write(fd, start + done, min(count - done, 1 << 30))
            #endif
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }
}
