import Emu3
import EmuTensor
import XCTest

/// Classifier-free guidance restricted to tokens the conditional model finds plausible.
final class GuidancePlausibilityTests: XCTestCase {
    /// Tokens below α times the likeliest allowed token's conditional probability drop out; the
    /// rest keep their guided scores, and tokens a constraint removed do not set the bar.
    func testKeepsOnlyTokensNearTheLikeliestAllowedOne() {
        let probabilities: [Float] = [0.5, 0.3, 0.1, 0.06, 0.04]
        let conditional = probabilities.map { log($0) + 7 }  // logits: any shift, the ratios are what count
        let scores: [Float] = [1, 2, 3, 4, 5]
        func kept(_ scores: [Float], _ alpha: Float) -> [Float] {
            ClassifierFreeGuidance(unconditionalPrompt: [0], scale: 2, plausibility: alpha)
                .keepingPlausible(scores, conditional: conditional)
        }
        XCTAssertEqual(kept(scores, 0), scores, "0 keeps every token")
        XCTAssertEqual(kept(scores, 0.25), [1, 2, -.infinity, -.infinity, -.infinity], "0.1 < 0.25 · 0.5")
        XCTAssertEqual(kept(scores, 1), [1, -.infinity, -.infinity, -.infinity, -.infinity], "only the likeliest")
        // Token 0 disallowed: the bar is 0.25 · 0.3, so 0.1 now passes and 0.06 does not.
        XCTAssertEqual(kept([-.infinity, 2, 3, 4, 5], 0.25), [-.infinity, 2, 3, -.infinity, -.infinity])
    }

    /// At plausibility 1 guidance may choose only the conditional model's own greedy token, so the
    /// guided run of the transformers golden (scale 3) writes the unguided greedy picture; a share
    /// outside 0...1 is refused.
    func testFullPlausibilityLeavesTheUnguidedGreedyChoice() throws {
        let pipeline = try Emu3Fixtures.pipeline()
        let golden = try Emu3Fixtures.json("generate_t2i")
        let constraint = try Emu3Fixtures.imageConstraint(golden, pipeline)
        func request(plausibility: Float?) throws -> GenerationRequest {
            GenerationRequest(prompt: try Emu3Fixtures.ints(golden["prompt_ids"]), maxNewTokens: constraint.tokenCount,
                              stopTokens: [pipeline.specials.endOfSequence], constraint: constraint,
                              guidance: try plausibility.map {
                                  ClassifierFreeGuidance(unconditionalPrompt: try Emu3Fixtures.ints(golden["negative_prompt_ids"]),
                                                         scale: 3, plausibility: $0)
                              })
        }
        let generator = try pipeline.generator()
        let unguided = try generator.generate(try request(plausibility: nil)).ids
        let guided = try generator.generate(try request(plausibility: 0)).ids
        XCTAssertNotEqual(guided, unguided, "the fixture's guidance changes the picture, so the test below can fail")
        XCTAssertEqual(try generator.generate(try request(plausibility: 1)).ids, unguided)
        for bad: Float in [-0.1, 1.5, .nan] {
            XCTAssertThrowsError(try generator.generate(try request(plausibility: bad))) { error in
                guard case .invalidParameter(let message)? = error as? GenerationError else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains("plausibility"), message)
            }
        }
    }
}
