import EmuIO
import EmuTensor
import Foundation

/// A folder of pre-tokenized images and videos, as `emu vq encode-dataset` writes it and the
/// trainer reads it.
///
/// Format (version 1):
/// - `codes-00000.safetensors`, `codes-00001.safetensors`, ...: each shard holds up to
///   `itemsPerShard` int32 tensors named `item-000000`, `item-000001`, ... (numbered across the
///   whole dataset), of shape [frames, rows, columns]: the codebook indices of one image (1 frame)
///   or video (frames / temporal factor latent frames). Shard metadata: `format: emu-vision-codes`.
/// - `index.jsonl`: one JSON object per item, in encoding order (the source's path is relative to
///   the input folder):
///   `{"frames":1,"height":32,"pixelHeight":256,"pixelWidth":256,"shard":"codes-00000.safetensors",
///     "source":"cats/1.png","tensor":"item-000000","width":32}`.
///
/// Writing is resumable: a shard is written atomically (temporary file, then rename) and only then
/// are its items' index lines appended, so an interrupted run leaves finished shards and their
/// lines; running again skips the sources already in the index and continues with a new shard.
/// A shard file with no index lines (a crash between the two steps) is overwritten by the next run.
public struct VisionCodeShards: Sendable {
    public static let indexName = "index.jsonl"
    public static let formatName = "emu-vision-codes"

    public let folder: URL
    /// Every item, in encoding order.
    public let entries: [VisionCodeIndexEntry]

    /// Opens a folder written by `VisionCodeShardWriter`; an error when it has no index.
    public init(folder: URL) throws {
        let index = folder.appendingPathComponent(Self.indexName)
        guard FileManager.default.fileExists(atPath: index.path) else {
            throw VisionTokenizerError.badInput("\(folder.path): no \(Self.indexName) (not a folder of vision code shards)")
        }
        self.folder = folder
        entries = try Self.readIndex(folder)
    }

    public var count: Int { entries.count }

    /// The codes of item `index` (in encoding order).
    public func codes(at index: Int) throws -> VisionCodes {
        guard entries.indices.contains(index) else {
            throw VisionTokenizerError.badInput("item \(index) of \(entries.count) in \(folder.path)")
        }
        return try codes(of: entries[index], in: try openShard(entries[index].shard))
    }

    /// Every item's codes, reading each shard once.
    public func allCodes() throws -> [VisionCodes] {
        var opened: [String: SafetensorsFile] = [:]
        return try entries.map { entry in
            if opened[entry.shard] == nil { opened = [entry.shard: try openShard(entry.shard)] }
            return try codes(of: entry, in: opened[entry.shard]!)
        }
    }

    private func openShard(_ name: String) throws -> SafetensorsFile {
        let path = folder.appendingPathComponent(name).path
        do { return try SafetensorsFile(path: path) } catch {
            throw VisionTokenizerError.badInput("\(path): \(error)")
        }
    }

    private func codes(of entry: VisionCodeIndexEntry, in shard: SafetensorsFile) throws -> VisionCodes {
        let place = "\(folder.appendingPathComponent(entry.shard).path) tensor \(entry.tensor)"
        let tensor: Tensor
        do { tensor = try shard.tensor(named: entry.tensor) } catch { throw VisionTokenizerError.badInput("\(place): \(error)") }
        guard tensor.shape == [entry.frames, entry.height, entry.width], tensor.dtype == .int32 else {
            throw VisionTokenizerError.badInput(
                "\(place): \(tensor.dtype) \(tensor.shape), the index says int32 [\(entry.frames), \(entry.height), \(entry.width)]")
        }
        return VisionCodes(frames: entry.frames, height: entry.height, width: entry.width, values: tensor.toIntArray())
    }

    /// The entries of the index in `folder` (empty when there is none). A line that is not an
    /// entry is an error naming the line, except a torn last line (no newline), which is ignored.
    public static func readIndex(_ folder: URL) throws -> [VisionCodeIndexEntry] {
        let url = folder.appendingPathComponent(indexName)
        guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if data.last != UInt8(ascii: "\n") { lines.removeLast() }  // torn or empty tail
        let decoder = JSONDecoder()
        var result: [VisionCodeIndexEntry] = []
        for (n, line) in lines.enumerated() where !line.isEmpty {
            do { result.append(try decoder.decode(VisionCodeIndexEntry.self, from: Data(line))) } catch {
                throw VisionTokenizerError.badInput("\(url.path) line \(n + 1): not an index entry (\(error))")
            }
        }
        return result
    }
}

/// One line of `index.jsonl`: where an item's codes are and what they are of.
public struct VisionCodeIndexEntry: Codable, Sendable, Equatable {
    /// The input file, relative to the encoded folder.
    public var source: String
    public var shard: String
    public var tensor: String
    /// Latent frames, rows and columns of codes.
    public var frames: Int
    public var height: Int
    public var width: Int
    /// The size the input was resized to before encoding.
    public var pixelHeight: Int
    public var pixelWidth: Int
}

/// Appends items to a `VisionCodeShards` folder, one shard at a time (see the format there).
public final class VisionCodeShardWriter {
    public let folder: URL
    public let itemsPerShard: Int
    /// Items whose shard is on disk (from earlier runs and this one).
    public private(set) var entries: [VisionCodeIndexEntry]
    private var pending: [(entry: VisionCodeIndexEntry, codes: Tensor)] = []
    private var nextShard: Int

    /// Opens (or creates) `folder`, reading the index of an earlier run.
    public init(folder: URL, itemsPerShard: Int = 256) throws {
        guard itemsPerShard > 0 else { throw VisionTokenizerError.badInput("items per shard must be positive") }
        self.folder = folder
        self.itemsPerShard = itemsPerShard
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Self.dropTornIndexLine(folder)
        entries = try VisionCodeShards.readIndex(folder)
        nextShard = entries.compactMap { Self.shardNumber($0.shard) }.max().map { $0 + 1 } ?? 0
    }

    /// Cuts an index line left unfinished by an interrupted run, so appended lines stay whole.
    private static func dropTornIndexLine(_ folder: URL) throws {
        let url = folder.appendingPathComponent(VisionCodeShards.indexName)
        guard let data = FileManager.default.contents(atPath: url.path), let last = data.last,
              last != UInt8(ascii: "\n") else { return }
        let keep = data.lastIndex(of: UInt8(ascii: "\n")).map { data[...$0] } ?? Data()
        try Data(keep).write(to: url, options: .atomic)
    }

    private static func shardNumber(_ name: String) -> Int? {
        guard name.hasPrefix("codes-"), name.hasSuffix(".safetensors") else { return nil }
        return Int(name.dropFirst("codes-".count).dropLast(".safetensors".count))
    }

    /// Sources already written or queued (to skip when resuming).
    public var encodedSources: Set<String> { Set(entries.map(\.source) + pending.map(\.entry.source)) }

    /// Queues the codes of `source`; writes a shard when `itemsPerShard` are queued.
    public func append(source: String, encoding: VisionEncoding) throws {
        let codes = encoding.codes
        let entry = VisionCodeIndexEntry(
            source: source, shard: String(format: "codes-%05d.safetensors", nextShard),
            tensor: String(format: "item-%06d", entries.count + pending.count),
            frames: codes.frames, height: codes.height, width: codes.width,
            pixelHeight: encoding.pixelHeight, pixelWidth: encoding.pixelWidth)
        pending.append((entry, Tensor(ints: codes.values.map { Int32($0) }, shape: [codes.frames, codes.height, codes.width])))
        if pending.count >= itemsPerShard { try flush() }
    }

    /// Writes the queued items' shard (atomically), then appends their index lines.
    public func flush() throws {
        guard let shard = pending.first?.entry.shard else { return }
        let tensors = Dictionary(uniqueKeysWithValues: pending.map { ($0.entry.tensor, $0.codes) })
        try SafetensorsWriter.write(tensors, metadata: ["format": VisionCodeShards.formatName],
                                    to: folder.appendingPathComponent(shard).path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var lines = Data()
        for item in pending { lines += try encoder.encode(item.entry) + Data("\n".utf8) }
        let url = folder.appendingPathComponent(VisionCodeShards.indexName)
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw VisionTokenizerError.badInput("\(url.path): cannot create")
            }
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: lines)
        try handle.synchronize()
        entries += pending.map(\.entry)
        pending.removeAll()
        nextShard += 1
    }
}
