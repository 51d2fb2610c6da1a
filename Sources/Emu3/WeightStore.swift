import EmuIO
import EmuTensor
import Foundation

/// Why a weight could not be provided.
public enum WeightStoreError: Error, CustomStringConvertible, Sendable, Equatable {
    case missingTensor(name: String)
    case shapeMismatch(name: String, expected: [Int], actual: [Int])
    /// Two checkpoint keys normalise to the same name (e.g. hub and in-memory spellings together).
    case duplicateName(name: String, firstKey: String, secondKey: String)
    /// The checkpoint holds weights the model did not ask for.
    case unusedTensors(names: [String])
    case checkpoint(SafetensorsError)

    public var description: String {
        switch self {
        case .missingTensor(let name): return "weight \"\(name)\" is missing from the checkpoint"
        case .shapeMismatch(let name, let expected, let actual):
            return "weight \"\(name)\" has shape \(actual), expected \(expected)"
        case .duplicateName(let name, let first, let second):
            return "checkpoint keys \"\(first)\" and \"\(second)\" both name weight \"\(name)\""
        case .unusedTensors(let names):
            let shown = names.prefix(10).map { "\"\($0)\"" }.joined(separator: ", ")
            return "\(names.count) checkpoint weight(s) were not used by the model: \(shown)\(names.count > 10 ? ", …" : "")"
        case .checkpoint(let error): return error.description
        }
    }
}

/// Model weights by name, for loaders that walk a model's parameter names.
///
/// Names are normalised to the in-memory names of transformers' `Emu3ForConditionalGeneration`
/// (`model.text_model.*`, `model.vqmodel.*`, `lm_head.*`), so hub checkpoints written by
/// `save_pretrained` (`text_model.model.*`, `text_model.lm_head.*`, `vqmodel.*`) and in-memory
/// state dicts load alike; BatchNorm `num_batches_tracked` counters are dropped. A stand-alone
/// VQ-VAE or text-model checkpoint keeps its own names.
///
/// `scoped(_:)` gives a view under a prefix; all views share one usage record, so after loading,
/// `unusedNames()` on the root lists surplus checkpoint keys. Tensors stay memory-mapped views.
public struct WeightStore: Sendable {
    private let backing: Backing
    /// Prefix of this view, e.g. "model.text_model." (empty for the root).
    public let prefix: String

    /// Weights held in memory (names are normalised).
    public init(tensors: [String: Tensor]) throws(WeightStoreError) {
        var entries: [String: Backing.Entry] = [:]
        for key in tensors.keys.sorted() {
            guard let name = WeightStore.canonicalName(key) else { continue }
            if let existing = entries[name] {
                throw .duplicateName(name: name, firstKey: existing.key, secondKey: key)
            }
            entries[name] = Backing.Entry(key: key, source: .memory(tensors[key]!))
        }
        self.init(backing: Backing(entries: entries), prefix: "")
    }

    /// Weights of an opened checkpoint (names are normalised; tensors are read on demand).
    public init(checkpoint: SafetensorsCheckpoint) throws(WeightStoreError) {
        var entries: [String: Backing.Entry] = [:]
        for key in checkpoint.names {
            guard let name = WeightStore.canonicalName(key) else { continue }
            if let existing = entries[name] {
                throw .duplicateName(name: name, firstKey: existing.key, secondKey: key)
            }
            entries[name] = Backing.Entry(key: key, source: .checkpoint(checkpoint))
        }
        self.init(backing: Backing(entries: entries), prefix: "")
    }

    /// The checkpoint in `directory`: `model.safetensors`, a sharded index, or all `*.safetensors`.
    public static func load(directory: String) throws(WeightStoreError) -> WeightStore {
        let checkpoint: SafetensorsCheckpoint
        do { checkpoint = try SafetensorsCheckpoint.open(directory: directory) } catch { throw .checkpoint(error) }
        return try WeightStore(checkpoint: checkpoint)
    }

    /// One safetensors file, or an index file (`*.index.json`).
    public static func load(file path: String) throws(WeightStoreError) -> WeightStore {
        let checkpoint: SafetensorsCheckpoint
        do {
            checkpoint = path.hasSuffix(".json") ? try SafetensorsCheckpoint(indexPath: path) : try SafetensorsCheckpoint(path: path)
        } catch {
            throw .checkpoint(error)
        }
        return try WeightStore(checkpoint: checkpoint)
    }

    private init(backing: Backing, prefix: String) {
        self.backing = backing
        self.prefix = prefix
    }

    /// The canonical name of a checkpoint key, or nil for keys that carry no weight.
    public static func canonicalName(_ key: String) -> String? {
        if key.hasSuffix("num_batches_tracked") { return nil }
        let rewrites: [(String, String)] = [
            ("text_model.model.", "model.text_model."),
            ("text_model.lm_head.", "lm_head."),
            ("text_model.", "model.text_model."),  // an `Emu3Model` state dict
            ("vqmodel.", "model.vqmodel."),
        ]
        for (from, to) in rewrites where key.hasPrefix(from) {
            return to + key.dropFirst(from.count)
        }
        return key
    }

    /// A view of the weights under `prefix` (relative to this view), e.g. `scoped("layers.0.")`.
    public func scoped(_ prefix: String) -> WeightStore {
        WeightStore(backing: backing, prefix: self.prefix + prefix)
    }

    /// Names in this view, relative to it, sorted.
    public var names: [String] {
        backing.entries.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }.sorted()
    }

    public func contains(_ name: String) -> Bool { backing.entries[prefix + name] != nil }

    /// The weight `name` (relative to this view), checked against `shape` when given, and marked used.
    public func tensor(_ name: String, shape: [Int]? = nil) throws(WeightStoreError) -> Tensor {
        let full = prefix + name
        guard let entry = backing.entries[full] else { throw .missingTensor(name: full) }
        let tensor: Tensor
        switch entry.source {
        case .memory(let t): tensor = t
        case .checkpoint(let checkpoint):
            do { tensor = try checkpoint.tensor(named: entry.key) } catch { throw .checkpoint(error) }
        }
        if let shape, shape != tensor.shape {
            throw .shapeMismatch(name: full, expected: shape, actual: tensor.shape)
        }
        backing.markUsed(full)
        return tensor
    }

    /// The weight `name` if the checkpoint has it (an optional bias), else nil.
    public func optionalTensor(_ name: String, shape: [Int]? = nil) throws(WeightStoreError) -> Tensor? {
        contains(name) ? try tensor(name, shape: shape) : nil
    }

    /// Marks weights under this view as used without loading them (buffers the model recomputes).
    public func markUsed(_ name: String) { backing.markUsed(prefix + name) }

    /// Names in this view (relative to it) never fetched through any view: surplus keys once a
    /// model has loaded all its parameters.
    public func unusedNames() -> [String] {
        let used = backing.usedNames()
        return backing.entries.keys.filter { $0.hasPrefix(prefix) && !used.contains($0) }
            .map { String($0.dropFirst(prefix.count)) }.sorted()
    }

    /// Throws `unusedTensors` if `unusedNames()` is not empty (names reported in full).
    public func checkAllUsed() throws(WeightStoreError) {
        let unused = unusedNames()
        if !unused.isEmpty { throw .unusedTensors(names: unused.map { prefix + $0 }) }
    }
}

extension WeightStore {
    /// Storage shared by a store and its scoped views. Entries are immutable; the usage set is
    /// guarded by a lock, which makes the unchecked `Sendable` sound.
    final class Backing: @unchecked Sendable {
        enum Source { case memory(Tensor), checkpoint(SafetensorsCheckpoint) }
        struct Entry {
            /// The key as spelled in the checkpoint.
            let key: String
            let source: Source
        }

        let entries: [String: Entry]
        private let lock = NSLock()
        private var used = Set<String>()

        init(entries: [String: Entry]) { self.entries = entries }

        func markUsed(_ name: String) {
            lock.lock()
            used.insert(name)
            lock.unlock()
        }

        func usedNames() -> Set<String> {
            lock.lock()
            defer { lock.unlock() }
            return used
        }
    }
}
