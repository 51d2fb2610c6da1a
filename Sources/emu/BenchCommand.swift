import ArgumentParser
import Emu3
import EmuTensor
import Foundation

/// `emu bench`: speed measurements apart from the tests.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure speed.",
        subcommands: [BenchDecodeCommand.self, BenchPrefillCommand.self, BenchKernelsCommand.self, BenchVQCommand.self,
                      BenchTrainCommand.self])
}

/// The random-weight transformers of the decode and prefill benchmarks (the configurations of
/// scripts/reference/bench_decode.py).
struct BenchModelOptions: ParsableArguments {
    enum Size: String, ExpressibleByArgument, CaseIterable { case tiny, m100 = "100m", b1 = "1b" }

    @Option(name: .long, help: "Configuration: tiny, 100m or 1b.")
    var size: Size = .m100
    @Option(name: .long, help: "Weight dtype: float32 or bfloat16.")
    var dtype = "float32"
    @Option(name: .long, help: "Measure this checkpoint's transformer (weights as stored, memory-mapped) instead of random weights.")
    var model: String?
    @Option(name: .long, help: "Prompt tokens to prefill.")
    var prompt = 128
    @Flag(name: .long, help: "Print one JSON document on stdout.")
    var json = false

    func validate() throws {
        guard DType(rawValue: dtype).map({ [.float32, .bfloat16].contains($0) }) == true else {
            throw ValidationError("--dtype must be float32 or bfloat16")
        }
        if prompt < 1 { throw ValidationError("--prompt must be at least 1") }
    }

    var weightType: DType { DType(rawValue: dtype) ?? .float32 }
    var label: String { model ?? size.rawValue }

    /// The transformer to measure and, for a checkpoint, the seconds it took to open.
    func makeModel() throws -> (Transformer, loadSeconds: Double?) {
        if let model {
            let start = Date()
            let pipeline = try Emu3Pipeline(directory: URL(fileURLWithPath: model), components: .transformer)
            guard let transformer = pipeline.transformer else { throw UserError("--model \(model): no transformer") }
            let seconds = Date().timeIntervalSince(start)
            Output.log(String(format: "opened %@ (%.2fB parameters) in %.2f s; %@", model,
                              Double(transformer.configuration.parameterCount) / 1e9, seconds, ProcessMemory.summary))
            return (transformer, seconds)
        }
        let c = BenchDecodeCommand.configuration(size)
        Output.log("building \(size.rawValue) (\(c.parameterCount / 1_000_000)M parameters, \(dtype)) with random weights")
        return (try Transformer(configuration: c, checkpoint: try WeightStore(
            tensors: BenchDecodeCommand.randomWeights(c, dtype: weightType))), nil)
    }

    /// `count` ids drawn uniformly from the vocabulary (seeded).
    func randomIDs(_ count: Int, vocabularySize: Int, seed: UInt64 = 1) -> [Int] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in Int(random.next() % UInt64(vocabularySize)) }
    }

    /// An untimed 4-token prefill and a decode step on a throwaway cache: pages in the weights,
    /// fills the allocator and the thread pool before anything is timed.
    func warmUp(_ model: Transformer) throws {
        let cache = model.makeCache(capacity: 16)
        let vocabularySize = model.configuration.vocabularySize
        _ = try model.forward(randomIDs(4, vocabularySize: vocabularySize, seed: 7), cache: cache)
        _ = try model.forward(randomIDs(1, vocabularySize: vocabularySize, seed: 8), cache: cache)
    }
}

/// Resident memory of this process from /proc/self/status (Linux; nil elsewhere).
enum ProcessMemory {
    /// (VmRSS, VmHWM) in bytes.
    static var current: (resident: Int, peak: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        func field(_ name: String) -> Int? {
            text.split(separator: "\n").first { $0.hasPrefix(name + ":") }
                .flatMap { $0.split(whereSeparator: \.isWhitespace).dropFirst().first }.flatMap { Int($0) }.map { $0 * 1024 }
        }
        guard let resident = field("VmRSS"), let peak = field("VmHWM") else { return nil }
        return (resident, peak)
    }

    static var summary: String {
        guard let (resident, peak) = current else { return "resident memory unknown" }
        return String(format: "VmRSS %.2f GiB, VmHWM %.2f GiB", Double(resident) / Double(1 << 30), Double(peak) / Double(1 << 30))
    }
}

/// `emu bench decode`: KV-cache decode tokens/s (after a prefill) of a random-weight transformer.
/// With bfloat16 weights it also reports the memory-bandwidth bound: weight bytes read per token
/// over the measured copy bandwidth.
struct BenchDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode", abstract: "Prefill and KV-cache decode tokens/s of a random-weight transformer.")

    typealias Size = BenchModelOptions.Size

    @OptionGroup var options: BenchModelOptions
    @Option(name: .long, help: "Tokens to decode one at a time after the prompt.")
    var tokens = 32

    struct Result: Encodable {
        var size: String
        var parameters: Int
        var dtype: String
        var promptTokens: Int
        var decodeTokens: Int
        /// Seconds to open the checkpoint (with --model).
        var loadSeconds: Double?
        /// VmRSS and VmHWM after decoding.
        var residentBytes: Int?
        var peakResidentBytes: Int?
        var prefillTokensPerSecond: Double
        var decodeTokensPerSecond: Double
        /// Weight bytes a decode step reads (every layer, the final norm, the LM head, one embedding row).
        var weightBytesPerToken: Int
        /// Bytes copied per second (memcpy, 2 threads, 256 MiB buffers, best of 5).
        var copyBytesPerSecond: Double
        /// copyBytesPerSecond / weightBytesPerToken.
        var bandwidthBoundTokensPerSecond: Double
        /// decodeTokensPerSecond / bandwidthBoundTokensPerSecond.
        var fractionOfBandwidthBound: Double
    }

    func run() throws {
        try runReportingErrors {
            guard tokens >= 1 else { throw UserError("--tokens must be at least 1") }
            let (model, loadSeconds) = try options.makeModel()
            let c = model.configuration
            try options.warmUp(model)
            let ids = options.randomIDs(options.prompt + tokens, vocabularySize: c.vocabularySize)
            let cache = model.makeCache(capacity: options.prompt + tokens)
            let start = Date()
            _ = try model.forward(Array(ids[..<options.prompt]), cache: cache)
            let prefillSeconds = Date().timeIntervalSince(start)
            let decodeStart = Date()
            for id in ids[options.prompt...] { _ = try model.forward([id], cache: cache) }
            let decodeSeconds = Date().timeIntervalSince(decodeStart)

            let weightType = options.model == nil ? options.weightType : model.weightType
            let weightBytes = (c.parameterCount - c.vocabularySize * c.hiddenSize + c.hiddenSize) * weightType.byteSize
            let memory = ProcessMemory.current
            let bandwidth = Self.copyBandwidth()
            let decodeRate = Double(tokens) / max(decodeSeconds, 1e-9)
            let bound = bandwidth / Double(weightBytes)
            let result = Result(size: options.label, parameters: c.parameterCount, dtype: weightType.rawValue,
                                promptTokens: options.prompt, decodeTokens: tokens, loadSeconds: loadSeconds,
                                residentBytes: memory?.resident, peakResidentBytes: memory?.peak,
                                prefillTokensPerSecond: Double(options.prompt) / prefillSeconds,
                                decodeTokensPerSecond: decodeRate, weightBytesPerToken: weightBytes,
                                copyBytesPerSecond: bandwidth, bandwidthBoundTokensPerSecond: bound,
                                fractionOfBandwidthBound: decodeRate / bound)
            if options.json {
                try Output.printJSON(result)
            } else {
                print(String(format: "%@ %@: prefill %.1f tok/s, decode %.2f tok/s; bandwidth bound %.2f tok/s (%.0f%%, copy %.1f GB/s, %.0f MB/token); %@",
                             options.label, weightType.rawValue, result.prefillTokensPerSecond, decodeRate, bound,
                             100 * result.fractionOfBandwidthBound, bandwidth / 1e9, Double(weightBytes) / 1e6,
                             ProcessMemory.summary))
            }
        }
    }

    /// memcpy bandwidth with two threads (each copying its half of a 256 MiB buffer), best of 5.
    static func copyBandwidth() -> Double {
        let byteCount = 256 << 20
        let source = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        let destination = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        defer { source.deallocate(); destination.deallocate() }
        source.initializeMemory(as: UInt8.self, repeating: 1, count: byteCount)
        destination.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        let half = byteCount / 2
        // Addresses cross into the worker closures as integers (raw pointers are not Sendable).
        let (from, to) = (Int(bitPattern: source), Int(bitPattern: destination))
        var best = Double.infinity
        for _ in 0..<5 {
            let start = Date()
            DispatchQueue.concurrentPerform(iterations: 2) { part in
                guard let d = UnsafeMutableRawPointer(bitPattern: to + part * half),
                      let s = UnsafeRawPointer(bitPattern: from + part * half) else { return }
                d.copyMemory(from: s, byteCount: half)
            }
            best = min(best, Date().timeIntervalSince(start))
        }
        return Double(byteCount) / best
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

/// `emu bench prefill`: tokens/s of prefilling a prompt (logits of its last position only), best
/// of `--repeats` runs on fresh caches.
struct BenchPrefillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prefill", abstract: "Prefill tokens/s of a random-weight transformer.")

    @OptionGroup var options: BenchModelOptions
    @Option(name: .long, help: "Timed runs (the best counts).")
    var repeats = 3

    struct Result: Encodable {
        var size: String
        var parameters: Int
        var dtype: String
        var promptTokens: Int
        var repeats: Int
        var prefillTokensPerSecond: Double
    }

    func run() throws {
        try runReportingErrors {
            guard repeats >= 1 else { throw UserError("--repeats must be at least 1") }
            let (model, _) = try options.makeModel()
            try options.warmUp(model)
            let ids = options.randomIDs(options.prompt, vocabularySize: model.configuration.vocabularySize)
            var best = Double.infinity
            for _ in 0..<repeats {
                let cache = model.makeCache(capacity: options.prompt)
                let start = Date()
                _ = try model.forward(ids, cache: cache)
                best = min(best, Date().timeIntervalSince(start))
            }
            let result = Result(size: options.label, parameters: model.configuration.parameterCount,
                                dtype: options.model == nil ? options.dtype : model.weightType.rawValue, promptTokens: options.prompt, repeats: repeats,
                                prefillTokensPerSecond: Double(options.prompt) / best)
            if options.json {
                try Output.printJSON(result)
            } else {
                print(String(format: "%@ %@: prefill %d tokens at %.1f tok/s", options.label, result.dtype,
                             options.prompt, result.prefillTokensPerSecond))
            }
        }
    }
}
