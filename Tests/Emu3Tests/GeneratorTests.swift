import Emu3
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
        let (rows, columns) = (try XCTUnwrap(golden["rows"] as? Int), try XCTUnwrap(golden["columns"] as? Int))
        let constraint = ImageGridConstraint(rows: rows, columns: columns, specials: pipeline.specials,
                                             visualTokens: pipeline.visualTokens)
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
}
