import Foundation

/// Videos as lists of equal-sized frames: read from a folder of frame images or a GIF, written
/// as an animated GIF or a folder of PNG frames.
public enum VideoFile {
    static let frameExtensions: Set<String> = ["png", "jpg", "jpeg", "gif"]

    /// A folder's image files (png/jpg/jpeg/gif, hidden files skipped) in natural name order
    /// ("frame2" before "frame10"), or every frame of a GIF. All frames must share one size.
    public static func readFrames(_ url: URL) throws -> [RGBImage] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw MediaError(.io, "video", "no such file or folder", file: url.path)
        }
        let frames: [RGBImage]
        if isDirectory.boolValue {
            let files = try frameFiles(in: url)
            guard !files.isEmpty else {
                throw MediaError(.inconsistentFrames, "video", "folder has no .png/.jpg/.jpeg/.gif frames", file: url.path)
            }
            var images: [RGBImage] = []
            for file in files {
                let image = try ImageFile.read(file)
                if let first = images.first, first.width != image.width || first.height != image.height {
                    throw MediaError(.inconsistentFrames, "video", "frame is \(image.width)x\(image.height), "
                                     + "the first frame is \(first.width)x\(first.height)", file: file.path)
                }
                images.append(image)
            }
            frames = images
        } else {
            let bytes = try ImageFile.readBytes(url)
            do {
                guard GIF.isGIF(bytes) else {
                    throw MediaError(.unsupported, "video", "a video is a folder of frames or a GIF; this file is "
                                     + (ImageFormat(sniffing: bytes).map { "a \($0.rawValue.uppercased()) image" } ?? "not an image"))
                }
                frames = try GIF.decode(bytes).frames
            } catch let error as MediaError {
                throw error.inFile(url.path)
            }
        }
        return frames
    }

    /// Writes an animated GIF (looping forever) atomically.
    public static func writeGIF(_ frames: [RGBImage], delayCentiseconds: Int, to url: URL) throws {
        do {
            try ImageFile.writeAtomically(GIF.encode(frames, delaysCentiseconds: [delayCentiseconds]), to: url, format: "GIF")
        } catch let error as MediaError {
            throw error.file == nil ? error.inFile(url.path) : error
        }
    }

    /// Writes frames as `prefix00000.png`, `prefix00001.png`, ... into `folder` (created if needed);
    /// returns the files in order.
    @discardableResult
    public static func writePNGFrames(_ frames: [RGBImage], to folder: URL, prefix: String = "frame_") throws -> [URL] {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw MediaError(.io, "video", "cannot create folder: \(error.localizedDescription)", file: folder.path)
        }
        var urls: [URL] = []
        for (i, frame) in frames.enumerated() {
            let name = prefix + String(repeating: "0", count: max(0, 5 - String(i).count)) + String(i) + ".png"
            let url = folder.appendingPathComponent(name)
            try ImageFile.writePNG(frame, to: url)
            urls.append(url)
        }
        return urls
    }

    static func frameFiles(in folder: URL) throws -> [URL] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            throw MediaError(.io, "video", "cannot list folder: \(error.localizedDescription)", file: folder.path)
        }
        return names.filter { !$0.hasPrefix(".") && frameExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
            .sorted(by: naturallyOrdered)
            .map { folder.appendingPathComponent($0) }
    }

    /// Natural order: runs of digits compare by value, other text by characters.
    static func naturallyOrdered(_ a: String, _ b: String) -> Bool {
        let x = chunks(a), y = chunks(b)
        for (p, q) in zip(x, y) where p != q {
            switch (Int(p), Int(q)) {
            case let (m?, n?) where m != n: return m < n
            default: return p < q
            }
        }
        return x.count != y.count ? x.count < y.count : a < b
    }

    static func chunks(_ s: String) -> [String] {
        var out: [String] = [], current = "", inDigits = false
        for ch in s {
            let digit = ch.isASCII && ch.isNumber
            if !current.isEmpty && digit != inDigits { out.append(current); current = "" }
            current.append(ch)
            inDigits = digit
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}
