#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Raw bytes behind one or more tensors: either an owned, 64-byte aligned heap buffer or a
/// read-only window into memory owned by someone else (a memory-mapped checkpoint), kept alive
/// through `owner`.
///
/// Immutable after construction except through `mutableBytes`, which only kernels writing a
/// freshly allocated output use; that is why the unchecked `Sendable` is sound in practice.
public final class TensorStorage: @unchecked Sendable {
    public let bytes: UnsafeMutableRawPointer
    public let byteCount: Int
    public let isReadOnly: Bool
    private let owner: AnyObject?
    private let ownsBytes: Bool

    /// A new zero-filled buffer of `byteCount` bytes.
    public convenience init(byteCount: Int) {
        self.init(uninitializedByteCount: byteCount)
        memset(bytes, 0, max(byteCount, 1))
    }

    /// A new buffer whose contents are undefined, for kernels that write every element.
    public init(uninitializedByteCount byteCount: Int) {
        let count = max(byteCount, 1)
        var raw: UnsafeMutableRawPointer? = nil
        #if canImport(Glibc)
        let rc = posix_memalign(&raw, 64, count)
        precondition(rc == 0 && raw != nil, "out of memory allocating \(count) bytes")
        #else
        raw = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        #endif
        self.bytes = raw!
        self.byteCount = byteCount
        self.isReadOnly = false
        self.owner = nil
        self.ownsBytes = true
    }

    /// A view of memory owned by `owner` (for example a memory-mapped file); never freed here.
    public init(borrowing bytes: UnsafeRawPointer, byteCount: Int, owner: AnyObject) {
        self.bytes = UnsafeMutableRawPointer(mutating: bytes)
        self.byteCount = byteCount
        self.isReadOnly = true
        self.owner = owner
        self.ownsBytes = false
    }

    deinit {
        if ownsBytes {
            #if canImport(Glibc)
            free(bytes)
            #else
            bytes.deallocate()
            #endif
        }
    }
}
