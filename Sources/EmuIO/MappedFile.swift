#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EmuTensor

/// Why a file could not be memory-mapped.
public struct MappedFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let reason: String
    public var description: String { "cannot map \(path): \(reason)" }
}

/// A whole file mapped read-only into memory (PROT_READ, MAP_PRIVATE), unmapped when released.
///
/// Pages are loaded lazily by the kernel, so opening a multi-gigabyte checkpoint costs almost no
/// resident memory. Pass the instance as the `owner` of a borrowed `TensorStorage` so tensors can
/// view its bytes without copying; the mapping then lives as long as any such tensor.
/// Immutable after init, hence `Sendable`. (Truncating the file on disk while it is mapped makes
/// later reads fault: the OS gives no way around that for mmap.)
public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// Start of the mapping; nil only for an empty file (nothing to map).
    private let base: UnsafeRawPointer?
    /// Size of the file in bytes.
    public let count: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw MappedFileError(path: path, reason: MappedFile.errnoText()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw MappedFileError(path: path, reason: MappedFile.errnoText()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw MappedFileError(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        count = size
        if size == 0 {
            base = nil
            return
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw MappedFileError(path: path, reason: MappedFile.errnoText())
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The mapped bytes (empty for an empty file). Valid while `self` is alive.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// A read-only `TensorStorage` viewing `byteCount` bytes at `offset`, keeping this mapping
    /// alive. The caller has checked that the range lies within the file.
    public func storage(offset: Int, byteCount: Int) -> TensorStorage {
        precondition(offset >= 0 && byteCount >= 0 && offset <= count - byteCount, "range outside \(path)")
        guard let base, byteCount > 0 else { return TensorStorage(byteCount: 0) }
        return TensorStorage(borrowing: base + offset, byteCount: byteCount, owner: self)
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
