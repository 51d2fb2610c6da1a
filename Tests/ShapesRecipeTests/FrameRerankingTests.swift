import Foundation
import ShapesWorld
import XCTest
@testable import Emu3
@testable import ShapesRecipe

/// Frame reranking on the bundled model: each predicted frame is the best-rated of its candidates
/// (the plain frame and seeded samples), rated here by hand from the model's log-probabilities;
/// later frames build on the frame kept; bad settings are refused with a named error.
final class FrameRerankingTests: XCTestCase {
    func testEachFrameIsTheBestRatedOfItsCandidates() throws {
        let model = try ShapesModel(directory: BundledModelTasksTests.folder)
        let clip = VideoSimulator.clip(seed: 5)
        let given = Array(clip.frames.prefix(2))
        let plain = try model.continueVideoIDs(given, count: 1, motionGuidance: MotionGuidance.none)
        XCTAssertEqual(try model.continueVideoIDs(given, count: 1, motionGuidance: MotionGuidance.none, reranking: FrameReranking(candidates: 1)), plain, "one candidate is the plain frame")

        // Unguided throughout (candidates are written with the model's motion guidance, whatever it is).
        // The candidates of the first frame: the plain one, then samples with their own seeds
        // (a one-frame continuation has the same prompt and grid rule as the reranking's first frame).
        let temperature: Float = 1.5
        var candidates = [plain]
        for k in 1..<4 {
            let seed = FrameReranking.seed(0, frame: 0, candidate: k)
            candidates.append(try model.continueVideoIDs(given, count: 1, sampling: SamplingParameters(temperature: temperature, seed: seed),
                                                         motionGuidance: MotionGuidance.none))
        }
        XCTAssertEqual(Set(candidates).count, 4, "each candidate has its own seed")
        let codes = try given.map(model.codec.encode)
        func logLikelihood(_ ids: [Int], after prompt: [Int]) throws -> Float {
            try model.generator.score(prompt + ids).logprobs.suffix(ids.count).reduce(0, +)
        }
        let prompt = model.sequences.videoPrompt(prefixCodes: codes)
        let reversed = model.sequences.videoPrompt(prefixCodes: codes.reversed())
        for score in FrameReranking.Score.allCases {
            let ratings = try candidates.map {
                try logLikelihood($0, after: prompt) - (score == .contrast ? logLikelihood($0, after: reversed) : 0)
            }
            let best = try XCTUnwrap(ratings.indices.max { ratings[$0] < ratings[$1] })
            let reranking = FrameReranking(candidates: 4, temperature: temperature, score: score)
            let kept = try model.continueVideoIDs(given, count: 1, motionGuidance: MotionGuidance.none, reranking: reranking)
            XCTAssertEqual(kept, candidates[best], "\(score): ratings \(ratings)")
            // The second frame is written after the kept first one.
            let two = try model.continueVideoIDs(given, count: 2, motionGuidance: MotionGuidance.none, reranking: reranking)
            XCTAssertEqual(two.count, 2 * model.sequences.frameLength)
            XCTAssertEqual(Array(two.prefix(kept.count)), kept, "\(score)")
            XCTAssertEqual(try model.frames(fromIDs: two, count: 2).count, 2)
        }
    }

    func testBadSettingsAreRefusedWithANamedError() throws {
        let model = try ShapesModel(directory: BundledModelTasksTests.folder)
        let clip = VideoSimulator.clip(seed: 5)
        let given = Array(clip.frames.prefix(2))
        let bad = [FrameReranking(candidates: 0), FrameReranking(candidates: FrameReranking.maximumCandidates + 1),
                   FrameReranking(candidates: 2, temperature: 0), FrameReranking(candidates: 2, temperature: .nan)]
        for reranking in bad {
            XCTAssertThrowsError(try model.continueVideoIDs(given, count: 1, reranking: reranking)) { error in
                guard case ShapesModelError.invalid(let what, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(what, "video continuation")
            }
        }
        // From one given frame there is no motion to contrast with.
        XCTAssertThrowsError(try model.continueVideoIDs([clip.frames[0]], count: 1,
                                                        reranking: FrameReranking(candidates: 2, score: .contrast))) { error in
            guard case ShapesModelError.invalid(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("two given frames"), reason)
        }
        let reranking = FrameReranking(candidates: 2, temperature: 0.5)
        let report = try ShapesEvaluation(model: model).video(samples: 1, prefixFrames: 2, predictedFrames: 1, reranking: reranking)
        XCTAssertEqual(report.frameReranking, reranking)
        XCTAssertNil(try ShapesEvaluation(model: model).video(samples: 1, prefixFrames: 2, predictedFrames: 1).frameReranking)
    }
}
