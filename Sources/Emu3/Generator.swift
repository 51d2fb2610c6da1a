import EmuTensor
import Foundation

/// One decoding loop for every task: text answers, images, video, actions. A task is a prompt plus
/// options: sampling, stop tokens, a constraint on the next token, classifier-free guidance.
public struct GenerationRequest: Sendable {
    public var prompt: [Int]
    public var maxNewTokens: Int
    public var sampling: SamplingParameters
    /// Generation stops after producing one of these (it is kept in the output).
    public var stopTokens: Set<Int>
    public var constraint: (any TokenConstraint)?
    public var guidance: ClassifierFreeGuidance?

    public init(prompt: [Int], maxNewTokens: Int, sampling: SamplingParameters = .greedy, stopTokens: Set<Int> = [],
                constraint: (any TokenConstraint)? = nil, guidance: ClassifierFreeGuidance? = nil) {
        self.prompt = prompt
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
        self.stopTokens = stopTokens
        self.constraint = constraint
        self.guidance = guidance
    }
}

public struct GenerationResult: Sendable, Equatable {
    public enum StopReason: String, Sendable, Equatable {
        case stopToken = "stop_token", maxTokens = "max_tokens", cancelled
    }

    /// The generated ids, after the prompt.
    public var ids: [Int]
    public var stopReason: StopReason
}

/// A token just chosen, as seen by a streaming callback.
public struct GeneratedToken: Sendable, Equatable {
    public var id: Int
    /// 0 for the first generated token.
    public var index: Int
}

public struct Generator: Sendable {
    public let model: Transformer

    public init(model: Transformer) { self.model = model }

    /// Runs `request`. `onToken` sees each token as it is chosen and returns false to stop (the
    /// tokens so far are returned, with stop reason `.cancelled`).
    public func generate(_ request: GenerationRequest,
                         onToken: (GeneratedToken) -> Bool = { _ in true }) throws -> GenerationResult {
        try request.sampling.validate()
        guard !request.prompt.isEmpty else { throw GenerationError.emptyPrompt }
        guard request.maxNewTokens >= 0 else { throw GenerationError.invalidParameter("max new tokens is negative") }
        let guidance = request.guidance.flatMap { $0.scale == 1 ? nil : $0 }
        if let p = guidance?.plausibility, !(p >= 0 && p <= 1) {
            throw GenerationError.invalidParameter("guidance plausibility \(p) is not a share (0 to 1)")
        }
        var positions = request.prompt.count + request.maxNewTokens
        try checkContext(promptLength: request.prompt.count, newTokens: request.maxNewTokens)
        if let guidance {
            try checkContext(promptLength: guidance.unconditionalPrompt.count, newTokens: request.maxNewTokens)
            positions += guidance.unconditionalPrompt.count + request.maxNewTokens
        }
        try checkMemory(positions: positions,
                        purpose: guidance == nil ? "the key/value cache" : "the two key/value caches of guidance")
        var generated: [Int] = []
        guard request.maxNewTokens > 0 else { return GenerationResult(ids: [], stopReason: .maxTokens) }

        let capacity = request.prompt.count + request.maxNewTokens
        let cache = model.makeCache(capacity: capacity)
        var logits = try model.forward(request.prompt, cache: cache)
        var unconditionalCache: KVCache?
        var unconditionalLogits: Tensor?
        if let guidance {
            guard !guidance.unconditionalPrompt.isEmpty else { throw GenerationError.emptyPrompt }
            let c = model.makeCache(capacity: guidance.unconditionalPrompt.count + request.maxNewTokens)
            unconditionalLogits = try model.forward(guidance.unconditionalPrompt, cache: c)
            unconditionalCache = c
        }

        var sampler = Sampler(request.sampling)
        while true {
            var scores = logits
            if let guidance, let u = unconditionalLogits { scores = guidance.combine(conditional: logits, unconditional: u) }
            var row = scores.toArray()
            if let constraint = request.constraint {
                let allowed = constraint.allowedTokens(after: generated)
                row = allowed.masking(row)
                guard row.contains(where: { $0 > -.infinity }) else {
                    throw GenerationError.unsatisfiableConstraint(offset: generated.count)
                }
            }
            if let guidance, guidance.plausibility > 0 { row = guidance.keepingPlausible(row, conditional: logits.toArray()) }
            let token = sampler.next(row)
            generated.append(token)
            if !onToken(GeneratedToken(id: token, index: generated.count - 1)) {
                return GenerationResult(ids: generated, stopReason: .cancelled)
            }
            if request.stopTokens.contains(token) { return GenerationResult(ids: generated, stopReason: .stopToken) }
            if generated.count >= request.maxNewTokens { return GenerationResult(ids: generated, stopReason: .maxTokens) }
            logits = try model.forward([token], cache: cache)
            if let c = unconditionalCache { unconditionalLogits = try model.forward([token], cache: c) }
        }
    }

    /// Per-token log-probabilities of `ids`: element t is log P(ids[t+1] | ids[0...t]). Positions run
    /// in chunks so the full [length, vocab] logits never exist at once. With `lastLogits`, the
    /// last position's raw logits row is returned too.
    public func score(_ ids: [Int], chunkLength: Int = 64, lastLogits: Bool = false) throws -> (logprobs: [Float], logits: [Float]?) {
        guard !ids.isEmpty else { throw GenerationError.emptyPrompt }
        try checkContext(promptLength: ids.count, newTokens: 0)
        try checkMemory(positions: ids.count, purpose: "the key/value cache")
        let cache = model.makeCache(capacity: ids.count)
        var logprobs: [Float] = []
        logprobs.reserveCapacity(ids.count - 1)
        var last: [Float]?
        var start = 0
        while start < ids.count {
            let end = min(start + max(chunkLength, 1), ids.count)
            let chunk = Array(ids[start..<end])
            let logits = try model.forward(chunk, cache: cache, logitRows: Array(0..<chunk.count))
            let logSoftmax = logits.logSoftmax().toArray()
            let vocab = logits.shape[1]
            for row in 0..<chunk.count where start + row + 1 < ids.count {
                logprobs.append(logSoftmax[row * vocab + ids[start + row + 1]])
            }
            if end == ids.count && lastLogits { last = Array(logits.rows((chunk.count - 1)..<chunk.count).toArray()) }
            start = end
        }
        return (logprobs, last)
    }
}

extension Generator {
    /// Refuses sequences longer than the model's context (`max_position_embeddings`), where its
    /// outputs are meaningless, with a message that says by how much.
    func checkContext(promptLength: Int, newTokens: Int) throws {
        let context = model.configuration.maxPositions
        guard promptLength + newTokens <= context else {
            throw GenerationError.contextExceeded(promptLength: promptLength, newTokens: newTokens, context: context)
        }
    }

    /// Refuses a request whose caches (float32 keys and values, `positions` in all) cannot fit in
    /// the memory available now.
    func checkMemory(positions: Int, purpose: String) throws {
        let c = model.configuration
        try MemoryBudget.check(KVCache.byteCount(positions: positions, layerCount: c.layerCount,
                                                 kvHeads: c.keyValueHeads, headDim: c.headDim), for: purpose)
    }
}

public enum GenerationError: Error, Equatable, CustomStringConvertible {
    case emptyPrompt
    case invalidParameter(String)
    case unsatisfiableConstraint(offset: Int)
    case contextExceeded(promptLength: Int, newTokens: Int, context: Int)
    case insufficientMemory(purpose: String, needed: Int, available: Int)

    public var description: String {
        switch self {
        case .emptyPrompt: return "the prompt has no tokens"
        case .invalidParameter(let message): return message
        case .unsatisfiableConstraint(let offset):
            return "the token constraint allows no token of the vocabulary at generated offset \(offset)"
        case .contextExceeded(let promptLength, let newTokens, let context):
            if promptLength >= context {
                return "the input has \(promptLength) tokens; the model's context holds \(context) positions"
            }
            return "the prompt's \(promptLength) tokens plus \(newTokens) new tokens exceed the model's context of "
                + "\(context) positions (ask for fewer new tokens or a smaller image)"
        case .insufficientMemory(let purpose, let needed, let available):
            func gib(_ bytes: Int) -> String { String(format: "%.2f GiB", Double(bytes) / Double(1 << 30)) }
            return "the request needs \(gib(needed)) for \(purpose) but only \(gib(available)) of memory is available "
                + "(ask for fewer tokens or a smaller image)"
        }
    }
}
