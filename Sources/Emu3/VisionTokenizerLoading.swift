import EmuIO
import EmuTensor
import Foundation

extension VisionTokenizer {
    /// Loads the vision tokenizer of a checkpoint folder:
    /// - an -hf `Emu3ForConditionalGeneration` checkpoint (`config.json` with `vq_config`; weights
    ///   `vqmodel.*` as saved, or `model.vqmodel.*` as named in memory);
    /// - a standalone transformers `Emu3VQVAE` save (`model_type` "emu3_vqgan");
    /// - BAAI's original `Emu3-VisionTokenizer` (`model_type` "Emu3VisionVQ", its own weight names).
    /// Weights stay memory-mapped until converted to float32.
    public init(directory: String) throws {
        let configuration = try VisionTokenizer.configuration(directory: directory)
        let store: WeightStore
        do { store = try WeightStore.load(directory: directory) } catch {
            throw VisionTokenizerError.badCheckpoint("\(directory): \(error.description)")
        }
        try self.init(configuration: configuration, weights: VisionTokenizer.tokenizerScope(of: store))
    }

    /// The view of `store` that holds the tokenizer: under `model.vqmodel.` in a full checkpoint
    /// (hub `vqmodel.*` keys are normalised to that), else the whole store.
    static func tokenizerScope(of store: WeightStore) -> WeightStore {
        let scoped = store.scoped("model.vqmodel.")
        guard !scoped.names.isEmpty else { return store }
        // The text model's weights belong to someone else: mark them as accounted for.
        for name in store.names where !name.hasPrefix("model.vqmodel.") { store.markUsed(name) }
        return scoped
    }

    /// The tokenizer's configuration from `config.json` in `directory` (the `vq_config` of a full
    /// checkpoint, or the file itself for a standalone tokenizer).
    public static func configuration(directory: String) throws -> VisionTokenizerConfiguration {
        let path = URL(fileURLWithPath: directory).appendingPathComponent("config.json").path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VisionTokenizerError.badCheckpoint("no config.json in \(directory)")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw VisionTokenizerError.badCheckpoint("\(path) is not a JSON object")
        }
        if let vq = json["vq_config"] as? [String: Any] {
            return try VisionTokenizerConfiguration(json: vq)
        }
        if json["text_config"] != nil || json["vocabulary_map"] != nil {
            throw VisionTokenizerError.badCheckpoint("\(path) has no vq_config")
        }
        return try VisionTokenizerConfiguration(json: json)
    }
}

extension VisionTokenizer {
    /// Every weight of the vision tokenizer in a checkpoint folder (any layout `init(directory:)`
    /// reads), as float32 tensors named as a standalone transformers `Emu3VQVAE` names them: the
    /// starting point for fine-tuning. Missing, surplus or misshapen weights throw, naming the weight.
    public static func weights(directory: String) throws -> (configuration: VisionTokenizerConfiguration, weights: [String: Tensor]) {
        let configuration = try VisionTokenizer.configuration(directory: directory)
        let store: WeightStore
        do { store = try WeightStore.load(directory: directory) } catch {
            throw VisionTokenizerError.badCheckpoint("\(directory): \(error.description)")
        }
        let scope = tokenizerScope(of: store)
        var reader = VQWeightReader(store: scope, layout: VisionTokenizerLayout.detect(scope))
        var weights: [String: Tensor] = [:]
        for (name, shape) in try weightShapes(for: configuration) {
            weights[name] = try reader.take(name, shape: shape)
        }
        try reader.checkAllTaken()
        return (configuration, weights)
    }
}
