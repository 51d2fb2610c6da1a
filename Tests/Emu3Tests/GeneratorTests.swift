import Emu3
import EmuTensor
import XCTest

/// Whole-loop parity with transformers' `generate` on the tiny checkpoint, and score parity.
final class GeneratorTests: XCTestCase {
    func testScoreMatchesTransformers() throws {
        let generator = try Emu3Fixtures.pipeline().generator()
        let golden = try Emu3Fixtures.json("score")
        let ids = try Emu3Fixtures.ints(golden["ids"])
        // Small chunks so the chunked path is exercised.
        let scored = try generator.score(ids, chunkLength: 5, lastLogits: true)
        let expected = try Emu3Fixtures.floats(golden["logprobs"])
        XCTAssertEqual(scored.logprobs.count, ids.count - 1)
        let logprobError = relativeError(scored.logprobs, expected)
        XCTAssertLessThan(logprobError, 1e-4)
        let logitsError = relativeError(try XCTUnwrap(scored.logits), try Emu3Fixtures.floats(golden["last_logits"]))
        XCTAssertLessThan(logitsError, 1e-4)
        print("score parity: logprobs \(logprobError), last logits \(logitsError) (relative)")
    }

    /// Greedy text-to-image with classifier-free guidance (scale 3, official negative prompt) and
    /// the grid constraint: the same ids as transformers.
    func testGreedyTextToImageWithGuidanceMatchesTransformers() throws {
        let pipeline = try Emu3Fixtures.pipeline()
        let golden = try Emu3Fixtures.json("generate_t2i")
        let constraint = try Emu3Fixtures.imageConstraint(golden, pipeline)
        let request = GenerationRequest(
            prompt: try Emu3Fixtures.ints(golden["prompt_ids"]),
            maxNewTokens: constraint.tokenCount,
            sampling: .greedy,
            stopTokens: [pipeline.specials.endOfSequence],
            constraint: constraint,
            guidance: ClassifierFreeGuidance(unconditionalPrompt: try Emu3Fixtures.ints(golden["negative_prompt_ids"]),
                                             scale: Float(try XCTUnwrap(golden["guidance_scale"] as? Double))))
        var streamed: [Int] = []
        let result = try pipeline.generator().generate(request) { streamed.append($0.id); return true }
        XCTAssertEqual(result.ids, try Emu3Fixtures.ints(golden["generated_ids"]))
        XCTAssertEqual(streamed, result.ids)
        XCTAssertEqual(result.stopReason, .stopToken)
    }

    /// Greedy answer about an image (its VQ codes in place, as in the golden): the same ids.
    func testGreedyChatMatchesTransformers() throws {
        let pipeline = try Emu3Fixtures.pipeline()
        let golden = try Emu3Fixtures.json("chat")
        let expected = try Emu3Fixtures.ints(golden["generated_ids"])
        let request = GenerationRequest(prompt: try Emu3Fixtures.ints(golden["prompt_ids"]),
                                        maxNewTokens: try XCTUnwrap(golden["max_new_tokens"] as? Int),
                                        sampling: .greedy, stopTokens: [pipeline.specials.endOfSequence])
        let result = try pipeline.generator().generate(request)
        XCTAssertEqual(result.ids, expected)
    }

    func testStreamingCallbackCanStop() throws {
        let pipeline = try Emu3Fixtures.pipeline()
        let golden = try Emu3Fixtures.json("chat")
        let request = GenerationRequest(prompt: try Emu3Fixtures.ints(golden["prompt_ids"]), maxNewTokens: 12)
        let result = try pipeline.generator().generate(request) { $0.index < 2 }
        XCTAssertEqual(result.ids.count, 3)
        XCTAssertEqual(result.stopReason, .cancelled)
        XCTAssertEqual(result.ids, Array(try Emu3Fixtures.ints(golden["generated_ids"]).prefix(3)))
    }

    func testSeededSamplingIsReproducible() throws {
        let pipeline = try Emu3Fixtures.pipeline()
        let prompt = try Emu3Fixtures.ints(try Emu3Fixtures.json("chat")["prompt_ids"])
        func run(_ seed: UInt64) throws -> [Int] {
            try pipeline.generator().generate(GenerationRequest(
                prompt: prompt, maxNewTokens: 8, sampling: SamplingParameters(temperature: 1.5, topK: 50, topP: 0.95, seed: seed))).ids
        }
        let first = try run(7)
        XCTAssertEqual(first, try run(7))
        XCTAssertNotEqual(first, try run(8))
    }

    /// A prompt that fills the context, or a request that would run past it, fails up front with
    /// the lengths in the error; exactly the context is accepted.
    func testRequestsBeyondTheContextAreRefused() throws {
        let generator = try Emu3Fixtures.pipeline().generator()
        let context = generator.model.configuration.maxPositions
        let tooLong = [Int](repeating: 5, count: context + 1)
        XCTAssertThrowsError(try generator.score(tooLong)) { error in
            XCTAssertEqual(error as? GenerationError, .contextExceeded(promptLength: context + 1, newTokens: 0, context: context))
        }
        XCTAssertEqual(try generator.score(Array(tooLong.dropLast())).logprobs.count, context - 1)
        XCTAssertThrowsError(try generator.generate(GenerationRequest(prompt: [5, 6, 7], maxNewTokens: context - 2))) { error in
            XCTAssertEqual(error as? GenerationError, .contextExceeded(promptLength: 3, newTokens: context - 2, context: context))
            XCTAssertTrue("\(error)".contains("exceed the model's context of \(context)"), "\(error)")
        }
        // The unconditional sequence of guidance is checked too.
        let guided = GenerationRequest(prompt: [5], maxNewTokens: context - 2,
                                       guidance: ClassifierFreeGuidance(unconditionalPrompt: [5, 6, 7], scale: 3))
        XCTAssertThrowsError(try generator.generate(guided)) { error in
            XCTAssertEqual(error as? GenerationError, .contextExceeded(promptLength: 3, newTokens: context - 2, context: context))
        }
    }

    /// Caches that cannot fit in the memory available are refused before any work, naming the sizes.
    func testRequestsLargerThanMemoryAreRefused() throws {
        // One layer, one head of 2^16 dimensions: 512 KiB of cache per position, 8 MB of weights.
        let c = Transformer.Configuration(vocabularySize: 4, hiddenSize: 8, intermediateSize: 8, layerCount: 1,
                                          attentionHeads: 1, keyValueHeads: 1, headDim: 1 << 16, maxPositions: 1 << 24)
        var weights: [String: Tensor] = [
            "model.text_model.embed_tokens.weight": Tensor(zeros: [4, 8]), "lm_head.weight": Tensor(zeros: [4, 8]),
            "model.text_model.norm.weight": Tensor(zeros: [8]),
        ]
        let p = "model.text_model.layers.0."
        for name in ["input_layernorm", "post_attention_layernorm"] { weights[p + name + ".weight"] = Tensor(zeros: [8]) }
        for name in ["q_proj", "k_proj", "v_proj"] { weights[p + "self_attn.\(name).weight"] = Tensor(zeros: [1 << 16, 8]) }
        weights[p + "self_attn.o_proj.weight"] = Tensor(zeros: [8, 1 << 16])
        for name in ["gate_proj", "up_proj"] { weights[p + "mlp.\(name).weight"] = Tensor(zeros: [8, 8]) }
        weights[p + "mlp.down_proj.weight"] = Tensor(zeros: [8, 8])
        let generator = Generator(model: try Transformer(configuration: c, checkpoint: try WeightStore(tensors: weights)))

        let positions = MemoryBudget.availableBytes / (512 << 10) + 2
        XCTAssertGreaterThan(KVCache.byteCount(positions: positions, layerCount: 1, kvHeads: 1, headDim: 1 << 16),
                             MemoryBudget.availableBytes)
        XCTAssertThrowsError(try generator.score([Int](repeating: 1, count: positions))) { error in
            guard case .insufficientMemory(_, let needed, let available)? = error as? GenerationError else {
                return XCTFail("\(error)")
            }
            XCTAssertGreaterThan(needed, available)
            XCTAssertTrue("\(error)".contains("GiB"), "\(error)")
        }
        // Guidance doubles the caches: a request whose two caches do not fit is refused.
        let half = positions / 2 + 1
        let guided = GenerationRequest(prompt: [1], maxNewTokens: half,
                                       guidance: ClassifierFreeGuidance(unconditionalPrompt: [1], scale: 3))
        XCTAssertThrowsError(try generator.generate(guided)) { error in
            guard case .insufficientMemory? = error as? GenerationError else { return XCTFail("\(error)") }
        }
    }
}
