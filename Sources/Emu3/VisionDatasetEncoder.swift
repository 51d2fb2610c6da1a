import EmuIO
import Foundation

/// Encodes every image and GIF under a folder into `VisionCodeShards` (what `emu vq
/// encode-dataset` runs). Resumable: sources already in the output's index are skipped.
public struct VisionDatasetEncoder {
    public static let mediaExtensions: Set<String> = ["png", "jpg", "jpeg", "gif"]

    public let pipeline: VisionTokenizerPipeline
    public let itemsPerShard: Int

    public init(pipeline: VisionTokenizerPipeline, itemsPerShard: Int = 256) {
        self.pipeline = pipeline
        self.itemsPerShard = itemsPerShard
    }

    /// What a run did.
    public struct Summary: Sendable, Codable, Equatable {
        /// Media files found under the input.
        public var sources: Int
        /// Encoded in this run.
        public var encoded: Int
        /// Already in the index from an earlier run.
        public var skipped: Int
        /// Items in the output after the run.
        public var items: Int
    }

    /// The image and GIF files under `folder` (recursively, hidden files skipped), as paths
    /// relative to it, sorted. Each is one item: PNG/JPEG a still image, GIF a video.
    public static func mediaFiles(in folder: URL) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue,
              let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil,
                                                          options: [.skipsHiddenFiles]) else {
            throw VisionTokenizerError.badInput("\(folder.path): not a readable folder")
        }
        let root = folder.standardizedFileURL.resolvingSymlinksInPath().path
        var result: [String] = []
        for case let url as URL in walker where mediaExtensions.contains(url.pathExtension.lowercased()) {
            let path = url.standardizedFileURL.resolvingSymlinksInPath().path
            guard path.hasPrefix(root + "/") else { continue }
            result.append(String(path.dropFirst(root.count + 1)))
        }
        return result.sorted()
    }

    /// Encodes the files under `input` not yet in `output`; `didEncode(source, done, total)` is
    /// called after each. On an error (naming the file) the items encoded so far are written first,
    /// so a rerun resumes after them.
    public func encode(input: URL, output: URL,
                       didEncode: (String, Int, Int) -> Void = { _, _, _ in }) throws -> Summary {
        let sources = try Self.mediaFiles(in: input)
        let writer = try VisionCodeShardWriter(folder: output, itemsPerShard: itemsPerShard)
        let done = writer.encodedSources
        let todo = sources.filter { !done.contains($0) }
        do {
            for (n, source) in todo.enumerated() {
                try writer.append(source: source, encoding: try pipeline.encode(file: input.appendingPathComponent(source)))
                didEncode(source, n + 1, todo.count)
            }
        } catch {
            try? writer.flush()
            throw error
        }
        try writer.flush()
        return Summary(sources: sources.count, encoded: todo.count, skipped: sources.count - todo.count,
                       items: writer.entries.count)
    }
}
