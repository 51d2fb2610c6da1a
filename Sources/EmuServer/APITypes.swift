import Foundation

// The JSON documents of the HTTP API. Field names are snake_case, OpenAI-style; every request field
// but the essential ones is optional and takes the documented default (docs/server.md).

/// `GET /health`.
public struct HealthResponse: Codable, Sendable, Equatable {
    public var status: String
    /// The checkpoint folder's name.
    public var model: String
    /// The transformer's vocabulary size (ids lie in 0..<vocabularySize).
    public var vocabularySize: Int
    /// The longest sequence the transformer takes (prompt plus generated tokens).
    public var contextLength: Int
}

/// Sampling fields shared by chat and image generation (read from the request's top level).
public struct SamplingFields: Codable, Sendable, Equatable {
    public var greedy: Bool?
    public var temperature: Float?
    public var topK: Int?
    public var topP: Float?
    /// Random when absent; the one used is returned so a result can be reproduced.
    public var seed: UInt64?

    enum CodingKeys: String, CodingKey {
        case greedy, temperature, seed
        case topK = "top_k"
        case topP = "top_p"
    }

    public init(greedy: Bool? = nil, temperature: Float? = nil, topK: Int? = nil, topP: Float? = nil, seed: UInt64? = nil) {
        self.greedy = greedy
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }
}

/// `POST /v1/chat`.
public struct ChatRequest: Codable, Sendable, Equatable {
    /// The user's text; rendered with the checkpoint's chat template unless `raw`.
    public var prompt: String?
    /// Token ids used verbatim as the whole prompt, instead of `prompt` and `images`.
    public var promptIDs: [Int]?
    /// Base64 PNG, JPEG or GIF images, placed before the text (or at `<image>` placeholders with `raw`).
    public var images: [String]?
    /// An optional system message, before the user turn in the chat template.
    public var system: String?
    /// Use `prompt` verbatim (no chat template).
    public var raw: Bool?
    public var maxNewTokens: Int?
    public var stream: Bool?
    public var sampling: SamplingFields

    enum CodingKeys: String, CodingKey {
        case prompt, images, system, raw, stream
        case promptIDs = "prompt_ids"
        case maxNewTokens = "max_new_tokens"
    }

    public init(prompt: String? = nil, promptIDs: [Int]? = nil, images: [String]? = nil, system: String? = nil,
                raw: Bool? = nil, maxNewTokens: Int? = nil, stream: Bool? = nil, sampling: SamplingFields = SamplingFields()) {
        self.prompt = prompt
        self.promptIDs = promptIDs
        self.images = images
        self.system = system
        self.raw = raw
        self.maxNewTokens = maxNewTokens
        self.stream = stream
        self.sampling = sampling
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        prompt = try c.decodeIfPresent(String.self, forKey: .prompt)
        promptIDs = try c.decodeIfPresent([Int].self, forKey: .promptIDs)
        images = try c.decodeIfPresent([String].self, forKey: .images)
        system = try c.decodeIfPresent(String.self, forKey: .system)
        raw = try c.decodeIfPresent(Bool.self, forKey: .raw)
        maxNewTokens = try c.decodeIfPresent(Int.self, forKey: .maxNewTokens)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream)
        sampling = try SamplingFields(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(prompt, forKey: .prompt)
        try c.encodeIfPresent(promptIDs, forKey: .promptIDs)
        try c.encodeIfPresent(images, forKey: .images)
        try c.encodeIfPresent(system, forKey: .system)
        try c.encodeIfPresent(raw, forKey: .raw)
        try c.encodeIfPresent(maxNewTokens, forKey: .maxNewTokens)
        try c.encodeIfPresent(stream, forKey: .stream)
        try sampling.encode(to: encoder)
    }
}

public struct ChatResponse: Codable, Sendable, Equatable {
    /// The generated text (absent when the checkpoint has no text tokenizer).
    public var text: String?
    /// The generated ids, after the prompt (EOS included when it ended the answer).
    public var ids: [Int]
    /// "stop_token", "max_tokens" or "cancelled".
    public var stopReason: String
    public var promptTokens: Int
    public var seed: UInt64

    enum CodingKeys: String, CodingKey {
        case text, ids, seed
        case stopReason = "stop_reason"
        case promptTokens = "prompt_tokens"
    }
}

/// One Server-Sent Event of a streamed chat: a token and the text it completes (empty while a
/// multi-byte character is still incomplete; null without a text tokenizer).
public struct ChatStreamToken: Codable, Sendable, Equatable {
    public var id: Int
    public var text: String?
}

/// `POST /v1/images/generations`.
public struct ImageGenerationRequest: Codable, Sendable, Equatable {
    public var prompt: String
    /// Defaults to the official Emu3 negative prompt.
    public var negativePrompt: String?
    /// "W:H", default "1:1".
    public var ratio: String?
    /// Pixels of the image, default the smaller of 720x720 and the preprocessor's max_pixels.
    public var area: Int?
    /// Guidance scale, default 3; 1 disables guidance.
    public var cfg: Float?
    /// Pictures drawn, the one the model rates best returned (ShapesWorld models only); default 1.
    public var bestOf: Int?
    /// How `best_of` rates: "caption" (default), "likelihood" or "contrast" (`ImageReranking.Score`).
    public var rerank: String?
    public var sampling: SamplingFields

    enum CodingKeys: String, CodingKey {
        case prompt, ratio, area, cfg, rerank
        case negativePrompt = "negative_prompt"
        case bestOf = "best_of"
    }

    public init(prompt: String, negativePrompt: String? = nil, ratio: String? = nil, area: Int? = nil,
                cfg: Float? = nil, bestOf: Int? = nil, rerank: String? = nil, sampling: SamplingFields = SamplingFields()) {
        self.prompt = prompt
        self.negativePrompt = negativePrompt
        self.ratio = ratio
        self.area = area
        self.cfg = cfg
        self.bestOf = bestOf
        self.rerank = rerank
        self.sampling = sampling
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        prompt = try c.decode(String.self, forKey: .prompt)
        negativePrompt = try c.decodeIfPresent(String.self, forKey: .negativePrompt)
        ratio = try c.decodeIfPresent(String.self, forKey: .ratio)
        area = try c.decodeIfPresent(Int.self, forKey: .area)
        cfg = try c.decodeIfPresent(Float.self, forKey: .cfg)
        bestOf = try c.decodeIfPresent(Int.self, forKey: .bestOf)
        rerank = try c.decodeIfPresent(String.self, forKey: .rerank)
        sampling = try SamplingFields(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(prompt, forKey: .prompt)
        try c.encodeIfPresent(negativePrompt, forKey: .negativePrompt)
        try c.encodeIfPresent(ratio, forKey: .ratio)
        try c.encodeIfPresent(area, forKey: .area)
        try c.encodeIfPresent(cfg, forKey: .cfg)
        try c.encodeIfPresent(bestOf, forKey: .bestOf)
        try c.encodeIfPresent(rerank, forKey: .rerank)
        try sampling.encode(to: encoder)
    }
}

public struct ImageGenerationResponse: Codable, Sendable, Equatable {
    public var rows: Int
    public var columns: Int
    /// The generated ids after the prompt: code rows with their EOL, then EOF, EOI, EOS.
    public var ids: [Int]
    /// Base64 PNG.
    public var image: String
    public var seed: UInt64
}

/// `POST /v1/score`.
public struct ScoreRequest: Codable, Sendable, Equatable {
    public var ids: [Int]
    public var logits: Bool?

    public init(ids: [Int], logits: Bool? = nil) {
        self.ids = ids
        self.logits = logits
    }
}

public struct ScoreResponse: Codable, Sendable, Equatable {
    /// logprobs[t] = log P(ids[t+1] | ids[0...t]).
    public var logprobs: [Float]
    /// The last position's full logits row, when asked for.
    public var logits: [Float]?
}

/// `POST /v1/vq/encode`.
public struct EncodeRequest: Codable, Sendable, Equatable {
    /// Base64 PNG, JPEG or GIF.
    public var image: String

    public init(image: String) { self.image = image }
}

/// A grid of codes, as `emu vq encode --json` prints it; also the body of `POST /v1/vq/decode`
/// (where only `codes` is needed).
public struct CodesDocument: Codable, Sendable, Equatable {
    public var frames: Int?
    public var height: Int?
    public var width: Int?
    public var pixelHeight: Int?
    public var pixelWidth: Int?
    /// frames x rows x columns.
    public var codes: [[[Int]]]

    public init(frames: Int? = nil, height: Int? = nil, width: Int? = nil, pixelHeight: Int? = nil,
                pixelWidth: Int? = nil, codes: [[[Int]]]) {
        self.frames = frames
        self.height = height
        self.width = width
        self.pixelHeight = pixelHeight
        self.pixelWidth = pixelWidth
        self.codes = codes
    }
}

/// `POST /v1/vq/decode` answer: the first frame as a PNG.
public struct DecodedImageResponse: Codable, Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Base64 PNG.
    public var image: String
}

/// Every error answer: `{"error": "..."}`.
public struct ErrorResponse: Codable, Sendable, Equatable {
    public var error: String
}
