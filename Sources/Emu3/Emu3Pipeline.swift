import EmuIO
import EmuTensor
import Foundation

/// A whole Emu3 checkpoint folder opened for inference: the transformer, the vision tokenizer, the
/// vocabulary's structural tokens, the text tokenizer and the chat template, each from the
/// checkpoint's own files (`config.json`, `*.safetensors`, `tokenizer.json`, `tokenizer_config.json`,
/// `chat_template.jinja`). Weights stay memory-mapped.
public struct Emu3Pipeline: Sendable {
    public struct Components: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public static let transformer = Components(rawValue: 1)
        public static let visionTokenizer = Components(rawValue: 2)
        public static let all: Components = [.transformer, .visionTokenizer]
    }

    public let directory: URL
    public let transformer: Transformer?
    public let visionTokenizer: VisionTokenizer?
    /// Resizing and normalization of input images (`preprocessor_config.json`), with the vision tokenizer.
    public let imageProcessor: ImageProcessor?
    public let specials: ImageSpecialTokens
    /// Visual code k -> token id, from the names' six digits in `vocabulary_map`.
    public let visualTokens: [Int]
    /// Name -> id of every token the config's `vocabulary_map` lists.
    public let vocabulary: [String: Int]
    /// The text tokenizer, when the folder has one this build can read.
    public let tokenizer: (any TextTokenizing)?
    /// The checkpoint's chat template (Jinja source), if it defines one.
    public let chatTemplate: String?

    /// Opens `directory`, loading only `components` (the transformer alone for `emu score`).
    public init(directory: URL, components: Components = .all,
                tokenizer: (any TextTokenizing)? = nil) throws {
        self.directory = directory
        let config = try Emu3Pipeline.readJSON(directory.appendingPathComponent("config.json"))
        guard let map = config["vocabulary_map"] as? [String: Any] else {
            throw PipelineError.invalidConfig(file: "config.json", reason: "no vocabulary_map")
        }
        var vocabulary: [String: Int] = [:]
        for (name, value) in map {
            guard let id = value as? Int else {
                throw PipelineError.invalidConfig(file: "config.json", reason: "vocabulary_map[\(name)] is not an integer")
            }
            vocabulary[name] = id
        }
        self.vocabulary = vocabulary
        specials = try ImageSpecialTokens(vocabulary: vocabulary)
        visualTokens = try Emu3Pipeline.visualTokens(in: vocabulary)

        let needsWeights = components.contains(.transformer) || components.contains(.visionTokenizer)
        let weights = needsWeights ? try WeightStore.load(directory: directory.path) : nil
        if components.contains(.transformer), let weights {
            guard let text = config["text_config"] else {
                throw PipelineError.invalidConfig(file: "config.json", reason: "no text_config")
            }
            let configuration = try JSONDecoder().decode(
                Transformer.Configuration.self, from: JSONSerialization.data(withJSONObject: text))
            transformer = try Transformer(configuration: configuration, checkpoint: weights)
        } else {
            transformer = nil
        }
        if components.contains(.visionTokenizer), let weights {
            guard let vq = config["vq_config"] as? [String: Any] else {
                throw PipelineError.invalidConfig(file: "config.json", reason: "no vq_config")
            }
            visionTokenizer = try VisionTokenizer(configuration: VisionTokenizerConfiguration(json: vq),
                                                  weights: VisionTokenizer.tokenizerScope(of: weights))
            imageProcessor = try ImageProcessor.load(directory: directory.path, spatialFactor: visionTokenizer!.spatialFactor)
        } else {
            visionTokenizer = nil
            imageProcessor = nil
        }
        self.tokenizer = tokenizer
        chatTemplate = Emu3Pipeline.chatTemplate(in: directory)
    }

    /// The processor of this checkpoint's layouts, with the vision tokenizer's spatial factor, or
    /// `spatialFactor` when the vision tokenizer was not loaded.
    public func processor(spatialFactor: Int? = nil) throws -> Processor {
        guard let factor = spatialFactor ?? visionTokenizer?.spatialFactor else {
            throw PipelineError.missingComponent("vision tokenizer")
        }
        return Processor(tokenizer: tokenizer, specials: specials, visualTokens: visualTokens, spatialFactor: factor)
    }

    public func generator() throws -> Generator {
        guard let transformer else { throw PipelineError.missingComponent("transformer") }
        return Generator(model: transformer)
    }

    /// Visual code -> id from names like `<|visual token 000042|>` (with or without the space):
    /// only the six digits count. Codes must be 0..<n without gaps.
    static func visualTokens(in vocabulary: [String: Int]) throws -> [Int] {
        var byCode: [Int: Int] = [:]
        for (name, id) in vocabulary where name.hasPrefix("<|visual token") && name.hasSuffix("|>") {
            let digits = name.dropLast(2).suffix(6)
            guard digits.count == 6, digits.allSatisfy(\.isASCII), let code = Int(digits) else {
                throw PipelineError.invalidConfig(file: "config.json", reason: "visual token name '\(name)' has no 6-digit code")
            }
            byCode[code] = id
        }
        let tokens = (0..<byCode.count).compactMap { byCode[$0] }
        guard tokens.count == byCode.count else {
            throw PipelineError.invalidConfig(file: "config.json", reason: "visual token codes are not 0..<\(byCode.count)")
        }
        return tokens
    }

    /// `chat_template.jinja`, else `chat_template` of `tokenizer_config.json`, `processor_config.json`
    /// or `chat_template.json`.
    static func chatTemplate(in directory: URL) -> String? {
        if let text = try? String(contentsOf: directory.appendingPathComponent("chat_template.jinja"), encoding: .utf8) {
            return text
        }
        for file in ["tokenizer_config.json", "processor_config.json", "chat_template.json"] {
            if let json = try? readJSON(directory.appendingPathComponent(file)), let template = json["chat_template"] as? String {
                return template
            }
        }
        return nil
    }

    static func readJSON(_ url: URL) throws -> [String: Any] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw PipelineError.unreadableFile(url.path, reason: error.localizedDescription)
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let dictionary = object as? [String: Any] else {
            throw PipelineError.invalidConfig(file: url.lastPathComponent, reason: "not a JSON object")
        }
        return dictionary
    }
}

public enum PipelineError: Error, Equatable, CustomStringConvertible {
    case unreadableFile(String, reason: String)
    case invalidConfig(file: String, reason: String)
    case missingComponent(String)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason): return "cannot read \(path): \(reason)"
        case .invalidConfig(let file, let reason): return "\(file): \(reason)"
        case .missingComponent(let what): return "the checkpoint has no usable \(what)"
        }
    }
}
