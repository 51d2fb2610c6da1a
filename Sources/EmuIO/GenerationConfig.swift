import Foundation

/// The sampling entries of a checkpoint's `generation_config.json`: how the checkpoint draws by
/// default, read as transformers reads them, so a model folder can carry the settings it was found
/// to draw best with. Every entry is optional (absent: the caller's default); the file's other
/// entries (token ids, lengths, and the many transformers knows) are not read.
public struct GenerationConfig: Decodable, Sendable, Equatable {
    public static let fileName = "generation_config.json"

    /// Classifier-free guidance scale (1: none). Not a transformers field; Emu3's pipelines pass it
    /// to `generate`, and the file is where a checkpoint can say what suits it.
    public var guidanceScale: Float?
    public var temperature: Float?
    /// 0, as in transformers, keeps every token.
    public var topK: Int?
    /// 1, as in transformers, keeps every token.
    public var topP: Float?

    public init(guidanceScale: Float? = nil, temperature: Float? = nil, topK: Int? = nil, topP: Float? = nil) {
        self.guidanceScale = guidanceScale
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }

    /// The top-k to sample with: the file's (0 is none), else `fallback`.
    public func topK(default fallback: Int?) -> Int? {
        guard let topK else { return fallback }
        return topK == 0 ? nil : topK
    }

    /// The top-p to sample with: the file's (1 is none), else `fallback`.
    public func topP(default fallback: Float?) -> Float? {
        guard let topP else { return fallback }
        return topP == 1 ? nil : topP
    }

    enum CodingKeys: String, CodingKey {
        case guidanceScale = "guidance_scale", temperature, topK = "top_k", topP = "top_p"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func invalid(_ key: CodingKeys, _ message: String) -> ConfigError {
            ConfigError(file: Self.fileName, keyPath: key.rawValue, message: message)
        }
        guidanceScale = try c.decodeIfPresent(Float.self, forKey: .guidanceScale)
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature)
        // Read as a number first: Foundation reports 2.5 read as an Int as "not valid JSON".
        if let k = try c.decodeIfPresent(Double.self, forKey: .topK) {
            guard k == k.rounded(), abs(k) < 1e9 else { throw invalid(.topK, "must be a whole number, not \(k)") }
            topK = Int(k)
        }
        topP = try c.decodeIfPresent(Float.self, forKey: .topP)
        if let g = guidanceScale, !(g > 0 && g.isFinite) { throw invalid(.guidanceScale, "must be a positive number, not \(g)") }
        if let t = temperature, !(t > 0 && t.isFinite) { throw invalid(.temperature, "must be a positive number, not \(t)") }
        if let k = topK, k < 0 { throw invalid(.topK, "must be 0 (none) or more, not \(k)") }
        if let p = topP, !(p > 0 && p <= 1) { throw invalid(.topP, "must be in (0, 1], not \(p)") }
    }

    /// The folder's `generation_config.json`, or an empty one (every default) when it has none.
    public static func load(directory: URL) throws(ConfigError) -> GenerationConfig {
        let path = directory.appendingPathComponent(fileName).path
        guard FileManager.default.fileExists(atPath: path) else { return GenerationConfig() }
        do {
            return try decodeConfig(GenerationConfig.self, from: readConfigFile(path), file: path)
        } catch {
            // Range errors are thrown with the bare file name; name the whole path.
            throw ConfigError(file: path, keyPath: error.keyPath, message: error.message)
        }
    }
}
