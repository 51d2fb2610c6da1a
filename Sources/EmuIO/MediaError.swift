/// Why an image or video file could not be read or written. Decoders throw it without a file
/// name; `ImageFile` and `VideoFile` fill in the file so the message says which one failed.
public struct MediaError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The bytes do not start with a PNG, JPEG or GIF signature.
        case notAnImage
        /// The data ended before the format said it would.
        case truncated
        /// A stored checksum (PNG chunk CRC, zlib Adler-32) does not match the data.
        case checksumMismatch
        /// The data breaks the format's rules.
        case corrupt
        /// A valid variant this decoder does not handle (CMYK JPEG, 12-bit JPEG, ...).
        case unsupported
        /// Frames of a video differ in size, or there are none.
        case inconsistentFrames
        /// The file system refused (missing file, no permission, ...).
        case io
    }

    public var reason: Reason
    /// The format being read or written ("PNG", "JPEG", "GIF", "zlib").
    public var format: String
    public var detail: String
    /// The file, once known.
    public var file: String?

    public init(_ reason: Reason, _ format: String, _ detail: String, file: String? = nil) {
        self.reason = reason
        self.format = format
        self.detail = detail
        self.file = file
    }

    /// The same error, attributed to `path`.
    public func inFile(_ path: String) -> MediaError {
        var copy = self
        copy.file = path
        return copy
    }

    public var description: String {
        let place = file.map { "\($0): " } ?? ""
        return "\(place)\(format) \(reason): \(detail)"
    }
}
