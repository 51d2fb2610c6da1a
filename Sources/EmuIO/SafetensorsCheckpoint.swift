import EmuTensor
import Foundation

/// A checkpoint made of one or more safetensors files: a single file, a sharded checkpoint with a
/// `*.safetensors.index.json` (`weight_map`: tensor name -> shard file), or a folder of files.
/// Tensor names are unique across the files.
public final class SafetensorsCheckpoint: Sendable {
    public let files: [SafetensorsFile]
    /// Tensor name -> index into `files`.
    private let location: [String: Int]
    /// The index file's `metadata`, or the single file's `__metadata__`.
    public let metadata: [String: String]

    /// All tensors of `files`; a name present in two files is an error.
    public init(files: [SafetensorsFile]) throws(SafetensorsError) {
        var location: [String: Int] = [:]
        for (i, file) in files.enumerated() {
            for name in file.names {
                if let other = location.updateValue(i, forKey: name) {
                    throw SafetensorsError(file: file.path, tensor: name, .duplicateAcrossFiles(otherFile: files[other].path))
                }
            }
        }
        self.files = files
        self.location = location
        self.metadata = files.count == 1 ? files[0].metadata : [:]
    }

    /// A single file.
    public convenience init(path: String) throws(SafetensorsError) {
        try self.init(files: [SafetensorsFile(path: path)])
    }

    /// A sharded checkpoint described by the index file at `indexPath`; shard names are relative
    /// to its folder. Every shard must exist and hold the tensors the index assigns to it.
    public init(indexPath: String) throws(SafetensorsError) {
        let folder = URL(fileURLWithPath: indexPath).deletingLastPathComponent()
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: indexPath))
        } catch {
            throw SafetensorsError(file: indexPath, .unreadable(reason: error.localizedDescription))
        }
        func bad(_ reason: String) -> SafetensorsError { SafetensorsError(file: indexPath, .badIndex(reason: reason)) }
        let root: JSONValue
        do { root = try JSONParser.parse(Array(data)) } catch { throw bad("not JSON (\(error))") }
        guard case .object(let members) = root else { throw bad("not a JSON object") }
        guard let weightMap = members.first(where: { $0.key == "weight_map" })?.value,
              case .object(let entries) = weightMap else { throw bad("missing \"weight_map\" object") }

        var metadata: [String: String] = [:]
        if let meta = members.first(where: { $0.key == "metadata" })?.value, case .object(let fields) = meta {
            for (key, value) in fields {
                switch value {
                case .string(let s): metadata[key] = s
                case .integer(let n): metadata[key] = String(n)
                default: metadata[key] = JSONWriter.serialize(value)
                }
            }
        }

        // Shards in order of first appearance; each with the tensors the index puts there.
        var shardNames: [String] = []
        var shardTensors: [String: [String]] = [:]
        var seen = Set<String>()
        for (tensor, value) in entries {
            guard case .string(let shard) = value else { throw bad("shard of \"\(tensor)\" is not a string") }
            guard !shard.isEmpty, !shard.hasPrefix("/"), !shard.split(separator: "/").contains("..") else {
                throw bad("shard name \"\(shard)\" must be a relative path inside the checkpoint folder")
            }
            guard seen.insert(tensor).inserted else { throw bad("\"\(tensor)\" is listed twice") }
            if shardTensors[shard] == nil { shardNames.append(shard) }
            shardTensors[shard, default: []].append(tensor)
        }

        var files: [SafetensorsFile] = []
        var location: [String: Int] = [:]
        for shard in shardNames {
            let tensors = shardTensors[shard]!
            let path = folder.appendingPathComponent(shard).path
            guard FileManager.default.fileExists(atPath: path) else {
                throw SafetensorsError(file: indexPath, tensor: tensors.sorted()[0], .missingShard(shard: shard))
            }
            let file = try SafetensorsFile(path: path)
            for tensor in tensors {
                guard file.contains(tensor) else {
                    throw SafetensorsError(file: indexPath, tensor: tensor, .tensorMissingFromShard(shard: shard))
                }
                location[tensor] = files.count
            }
            files.append(file)
        }
        self.files = files
        self.location = location
        self.metadata = metadata
    }

    /// The checkpoint in `directory`: `model.safetensors` if present, else the (single)
    /// `*.safetensors.index.json`, else every `*.safetensors` file there.
    public static func open(directory: String) throws(SafetensorsError) -> SafetensorsCheckpoint {
        let folder = URL(fileURLWithPath: directory)
        let single = folder.appendingPathComponent("model.safetensors").path
        if FileManager.default.fileExists(atPath: single) { return try SafetensorsCheckpoint(path: single) }
        let entries: [String]
        do {
            entries = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw SafetensorsError(file: directory, .unreadable(reason: error.localizedDescription))
        }
        let indexes = entries.filter { $0.hasSuffix(".safetensors.index.json") }
        if let preferred = indexes.first(where: { $0 == "model.safetensors.index.json" }) ?? (indexes.count == 1 ? indexes[0] : nil) {
            return try SafetensorsCheckpoint(indexPath: folder.appendingPathComponent(preferred).path)
        }
        if indexes.count > 1 {
            throw SafetensorsError(file: directory, .badIndex(reason: "several index files: \(indexes.joined(separator: ", "))"))
        }
        let shards = entries.filter { $0.hasSuffix(".safetensors") }
        guard !shards.isEmpty else {
            throw SafetensorsError(file: directory, .unreadable(reason: "no .safetensors file in the folder"))
        }
        var files: [SafetensorsFile] = []
        for shard in shards { files.append(try SafetensorsFile(path: folder.appendingPathComponent(shard).path)) }
        return try SafetensorsCheckpoint(files: files)
    }

    /// Every tensor name, sorted.
    public var names: [String] { location.keys.sorted() }

    public func contains(_ name: String) -> Bool { location[name] != nil }

    /// The file holding `name`.
    public func file(containing name: String) throws(SafetensorsError) -> SafetensorsFile {
        guard let i = location[name] else {
            throw SafetensorsError(file: files.map(\.path).joined(separator: ", "), tensor: name, .tensorNotFound)
        }
        return files[i]
    }

    public func info(named name: String) throws(SafetensorsError) -> SafetensorsTensorInfo {
        try file(containing: name).info(named: name)
    }

    public func tensor(named name: String) throws(SafetensorsError) -> Tensor {
        try file(containing: name).tensor(named: name)
    }
}
