import ArgumentParser
import Emu3
import EmuTensor
import Foundation

/// `emu bench`: speed measurements apart from the tests.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure speed.", subcommands: [BenchDecodeCommand.self])
}

/// `emu bench decode`: prefill and KV-cache decode tokens/s of the transformer with random weights,
/// on the same configurations as scripts/reference/bench_decode.py.
struct BenchDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode", abstract: "Prefill and decode tokens/s of a random-weight transformer.")

    enum Size: String, ExpressibleByArgument, CaseIterable { case tiny, m100 = "100m", b1 = "1b" }

    @Option(name: .long, help: "Configuration: tiny, 100m or 1b.")
    var size: Size = .m100
    @Option(name: .long, help: "Prompt tokens to prefill.")
    var prompt = 128
    @Option(name: .long, help: "Tokens to decode one at a time after the prompt.")
    var tokens = 32
    @Option(name: .long, help: "Weight dtype: float32 or bfloat16.")
    var dtype = "float32"
    @Flag(name: .long, help: "Print one JSON document on stdout.")
    var json = false

    struct Result: Encodable {
        var size: String
        var parameters: Int
        var dtype: String
        var promptTokens: Int
        var decodeTokens: Int
        var prefillTokensPerSecond: Double
        var decodeTokensPerSecond: Double
    }

    static func configuration(_ size: Size) -> Transformer.Configuration {
        switch size {
        case .tiny:
            return .init(vocabularySize: 1024, hiddenSize: 64, intermediateSize: 128, layerCount: 2,
                         attentionHeads: 4, keyValueHeads: 2)
        case .m100:
            return .init(vocabularySize: 32_000, hiddenSize: 768, intermediateSize: 2048, layerCount: 12,
                         attentionHeads: 12, keyValueHeads: 4)
        case .b1:
            return .init(vocabularySize: 32_000, hiddenSize: 2048, intermediateSize: 5632, layerCount: 16,
                         attentionHeads: 16, keyValueHeads: 8)
        }
    }

    func run() throws {
        try runReportingErrors {
            guard let weightType = DType(rawValue: dtype), [.float32, .bfloat16].contains(weightType) else {
                throw UserError("--dtype must be float32 or bfloat16")
            }
            let c = Self.configuration(size)
            Output.log("building \(size.rawValue) (\(c.parameterCount / 1_000_000)M parameters, \(dtype)) with random weights")
            let model = try Transformer(configuration: c, checkpoint: try WeightStore(tensors: Self.randomWeights(c, dtype: weightType)))
            var random = SplitMix64(seed: 1)
            let ids = (0..<(prompt + tokens)).map { _ in Int(random.next() % UInt64(c.vocabularySize)) }

            let cache = model.makeCache(capacity: prompt + tokens)
            let start = Date()
            _ = try model.forward(Array(ids[..<prompt]), cache: cache)
            let prefillSeconds = Date().timeIntervalSince(start)
            let decodeStart = Date()
            for id in ids[prompt...] { _ = try model.forward([id], cache: cache) }
            let decodeSeconds = Date().timeIntervalSince(decodeStart)
            let result = Result(size: size.rawValue, parameters: c.parameterCount, dtype: dtype, promptTokens: prompt,
                                decodeTokens: tokens, prefillTokensPerSecond: Double(prompt) / prefillSeconds,
                                decodeTokensPerSecond: Double(tokens) / max(decodeSeconds, 1e-9))
            if json {
                try Output.printJSON(result)
            } else {
                print(String(format: "%@: prefill %.1f tok/s, decode %.2f tok/s", size.rawValue,
                             result.prefillTokensPerSecond, result.decodeTokensPerSecond))
            }
        }
    }

    /// Weights named as in an Emu3 checkpoint, N(0, 0.02) (norm scales 1), like transformers' init.
    static func randomWeights(_ c: Transformer.Configuration, dtype: DType) -> [String: Tensor] {
        var random = SplitMix64(seed: 2024)
        func normal(_ shape: [Int]) -> Tensor {
            let n = Tensor.elementCount(shape)
            var values = [Float](repeating: 0, count: n)
            var i = 0
            while i < n {  // Box-Muller, two at a time
                let u = max(random.nextUnitFloat(), 1e-300), v = random.nextUnitFloat()
                let r = (-2 * Foundation.log(u)).squareRoot() * 0.02
                values[i] = Float(r * Foundation.cos(2 * .pi * v))
                if i + 1 < n { values[i + 1] = Float(r * Foundation.sin(2 * .pi * v)) }
                i += 2
            }
            return Tensor(values, shape: shape).to(dtype)
        }
        let ones = { (n: Int) in Tensor([Float](repeating: 1, count: n), shape: [n]) }
        let (h, d) = (c.hiddenSize, c.headDim)
        var w: [String: Tensor] = [
            "model.text_model.embed_tokens.weight": normal([c.vocabularySize, h]),
            "model.text_model.norm.weight": ones(h),
            "lm_head.weight": normal([c.vocabularySize, h]),
        ]
        for l in 0..<c.layerCount {
            let p = "model.text_model.layers.\(l)."
            w[p + "input_layernorm.weight"] = ones(h)
            w[p + "post_attention_layernorm.weight"] = ones(h)
            w[p + "self_attn.q_proj.weight"] = normal([c.attentionHeads * d, h])
            w[p + "self_attn.k_proj.weight"] = normal([c.keyValueHeads * d, h])
            w[p + "self_attn.v_proj.weight"] = normal([c.keyValueHeads * d, h])
            w[p + "self_attn.o_proj.weight"] = normal([h, c.attentionHeads * d])
            w[p + "mlp.gate_proj.weight"] = normal([c.intermediateSize, h])
            w[p + "mlp.up_proj.weight"] = normal([c.intermediateSize, h])
            w[p + "mlp.down_proj.weight"] = normal([h, c.intermediateSize])
        }
        return w
    }
}
