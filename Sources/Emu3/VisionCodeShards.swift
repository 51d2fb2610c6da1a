import EmuIO
import EmuTensor
import Foundation

/// A folder of pre-tokenized images and videos, as `emu vq encode-dataset` writes it and the
/// trainer reads it:
///
/// - `codes-00000.safetensors`, `codes-00001.safetensors`, ...: each holds up to `itemsPerShard`
///   int32 tensors named `item-000000`, ... of shape [frames, rows, columns];
/// - `index.jsonl`: one JSON object per item, in encoding order:
///   `{"source": "cats/1.png", "shard": "codes-00000.safetensors", "tensor": "item-000000",
///     "frames": 1, "height": 32, "width": 32, "pixelHeight": 256, "pixelWidth": 256}`.
///
/// Shards are written atomically, and an item's index line is appended only after its shard is on
/// disk, so an interrupted run loses at most the unfinished shard; running again resumes after the
/// items already in the index.
public struct VisionCodeIndexEntry: Codable, Sendable, Equatable {
    public var source: String
    public var shard: String
    public var tensor: String
    public var frames: Int
    public var height: Int
    public var width: Int
    public var pixelHeight: Int
    public var pixelWidth: Int
}

public final class VisionCodeShardWriter {
    public let folder: URL
    public let itemsPerShard: Int
    /// Items already in the index (from earlier runs and flushed shards).
    public private(set) var entries: [VisionCodeIndexEntry] = []
    private var pending: [(entry: VisionCodeIndexEntry, codes: Tensor)] = []
    private var nextShard: Int
    private var nextItem: Int

    public static let indexName = "index.jsonl"

    /// Opens (or creates) `folder`, reading the index of an earlier run.
    public init(folder: URL, itemsPerShard: Int = 256) throws {
        precondition(itemsPerShard > 0)
        self.folder = folder
        self.itemsPerShard = itemsPerShard
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        entries = try Self.readIndex(folder)
        let shardNames = Set(entries.map(\.shard))
        nextShard = shardNames.compactMap { Int($0.dropFirst("codes-".count).prefix(5)) }.max().map { $0 + 1 } ?? 0
        nextItem = entries.count
    }

    /// The entries of the index in `folder` (empty when there is none).
    public static func readIndex(_ folder: URL) throws -> [VisionCodeIndexEntry] {
        let url = folder.appendingPathComponent(indexName)
        guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
        let decoder = JSONDecoder()
        var result: [VisionCodeIndexEntry] = []
        for (n, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
            do { result.append(try decoder.decode(VisionCodeIndexEntry.self, from: Data(line))) } catch {
                throw VisionTokenizerError.badInput("\(url.path) line \(n + 1): \(error)")
            }
        }
        return result
    }

    /// Sources already encoded (to skip when resuming).
    public var encodedSources: Set<String> { Set(entries.map(\.source) + pending.map(\.entry.source)) }

    /// Queues the codes of `source`; writes a shard when `itemsPerShard` are queued.
    public func append(source: String, codes: VisionCodes, pixelHeight: Int, pixelWidth: Int) throws {
        let name = String(format: "item-%06d", nextItem)
        nextItem += 1
        let entry = VisionCodeIndexEntry(source: source, shard: String(format: "codes-%05d.safetensors", nextShard),
                                         tensor: name, frames: codes.frames, height: codes.height, width: codes.width,
                                         pixelHeight: pixelHeight, pixelWidth: pixelWidth)
        pending.append((entry, Tensor(ints: codes.values.map { Int32($0) }, shape: [codes.frames, codes.height, codes.width])))
        if pending.count >= itemsPerShard { try flush() }
    }

    /// Writes the queued items' shard, then appends their index lines.
    public func flush() throws {
        guard let shard = pending.first?.entry.shard else { return }
        let tensors = Dictionary(uniqueKeysWithValues: pending.map { ($0.entry.tensor, $0.codes) })
        try SafetensorsWriter.write(tensors, metadata: ["format": "emu-vision-codes"],
                                    to: folder.appendingPathComponent(shard).path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var lines = Data()
        for item in pending { lines += try encoder.encode(item.entry) + Data("\n".utf8) }
        let url = folder.appendingPathComponent(Self.indexName)
        if !FileManager.default.fileExists(atPath: url.path) { FileManager.default.createFile(atPath: url.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: lines)
        try handle.synchronize()
        entries += pending.map(\.entry)
        pending.removeAll()
        nextShard += 1
    }

    /// The codes of one indexed item.
    public static func codes(of entry: VisionCodeIndexEntry, in folder: URL) throws -> VisionCodes {
        let tensor = try SafetensorsFile(path: folder.appendingPathComponent(entry.shard).path).tensor(named: entry.tensor)
        return VisionCodes(frames: entry.frames, height: entry.height, width: entry.width, values: tensor.toIntArray())
    }
}
