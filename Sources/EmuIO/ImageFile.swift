import Foundation

/// Image container formats recognised by their leading bytes.
public enum ImageFormat: String, Sendable {
    case png, jpeg, gif

    /// The format whose signature `bytes` start with, nil if none.
    public init?(sniffing bytes: [UInt8]) {
        if PNG.isPNG(bytes) { self = .png } else if JPEG.isJPEG(bytes) { self = .jpeg } else if GIF.isGIF(bytes) { self = .gif } else { return nil }
    }
}

/// Reading and writing still images as `RGBImage`. The format is taken from the file's bytes,
/// never its extension; every failure is a `MediaError` that names the file.
public enum ImageFile {
    /// Reads a PNG, JPEG or GIF (its first frame) as Pillow's `convert("RGB")` would give it.
    public static func read(_ url: URL) throws -> RGBImage {
        let bytes = try readBytes(url)
        do {
            return try decode(bytes)
        } catch let error as MediaError {
            throw error.inFile(url.path)
        }
    }

    /// Decodes image bytes of any supported format.
    public static func decode(_ bytes: [UInt8]) throws -> RGBImage {
        switch ImageFormat(sniffing: bytes) {
        case .png: return try PNG.decode(bytes)
        case .jpeg: return try JPEG.decode(bytes)
        case .gif: return try GIF.decode(bytes).frames[0]
        case nil:
            let head = bytes.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw MediaError(.notAnImage, "image", bytes.isEmpty ? "empty file" : "unrecognised leading bytes [\(head)] (PNG, JPEG and GIF are supported)")
        }
    }

    /// Writes an 8-bit RGB PNG atomically (a temporary file in the same folder, then a rename),
    /// so readers never see a half-written file.
    public static func writePNG(_ image: RGBImage, to url: URL) throws {
        try writeAtomically(PNG.encode(image), to: url, format: "PNG")
    }

    static func readBytes(_ url: URL) throws -> [UInt8] {
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            throw MediaError(.io, "file", "cannot read: \(error.localizedDescription)", file: url.path)
        }
    }

    static func writeAtomically(_ bytes: [UInt8], to url: URL, format: String) throws {
        let folder = url.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try Data(bytes).write(to: temporary)
        } catch {
            throw MediaError(.io, format, "cannot write: \(error.localizedDescription)", file: url.path)
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw MediaError(.io, format, "cannot move the finished file into place: \(reason)", file: url.path)
        }
    }
}
