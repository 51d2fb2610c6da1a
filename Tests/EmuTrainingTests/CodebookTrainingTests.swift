import XCTest
import EmuTensor
@testable import EmuTraining

final class CodebookTrainingTests: XCTestCase {
    func testStraightThroughForwardIsQuantizedAndGradientIsIdentity() {
        let z = Tensor([0.1, -0.4, 2.0, 0.7], shape: [2, 2]).requiringGradient()
        let q = Tensor([0, 0, 2, 1], shape: [2, 2])
        let st = VectorQuantizerLosses.straightThrough(latents: z, quantized: q)
        XCTAssertEqual(st.toArray(), q.toArray())
        st.multiplying(Tensor([1, 2, 3, 4], shape: [2, 2])).sum().backward()
        XCTAssertEqual(z.grad?.toArray(), [1, 2, 3, 4])
    }

    func testCommitmentGradientPullsLatentsTowardCodes() {
        let z = Tensor([1, 3], shape: [1, 2]).requiringGradient()
        let q = Tensor([0, 1], shape: [1, 2])
        let loss = VectorQuantizerLosses.commitment(latents: z, quantized: q, beta: 0.25)
        XCTAssertEqual(loss.item, 0.25 * (1 + 4) / 2, accuracy: 1e-6)
        loss.backward()
        // d/dz 0.25 * mean((z-q)^2) = 0.25 * 2 (z - q) / 2
        XCTAssertEqual(z.grad!.toArray(), [0.25, 0.5])
    }

    func testEMAShrinksQuantizationErrorAndRestartsDeadCodes() {
        // Two clusters around (1,1) and (-1,-1); code 2 starts far away and is never used.
        let codebook = Tensor([0.5, 0.5, -0.5, -0.5, 9, 9], shape: [3, 2])
        var ema = CodebookEMA(codebook: codebook, decay: 0.5, deadThreshold: 0.05, seed: 1)
        let latents = Tensor([1.1, 0.9, 0.9, 1.1, -1, -1, -1.2, -0.8], shape: [4, 2])
        func quantizationError() -> Float {
            let codes = Tensor.nearestCodes(latents, codebook: codebook)
            let q = Tensor.embedding(codes, shape: [4], table: codebook)
            return VectorQuantizerLosses.meanSquaredError(latents, q).item
        }
        let before = quantizationError()
        var restarted = 0
        for _ in 0..<12 {
            let codes = Tensor.nearestCodes(latents, codebook: codebook)
            restarted += ema.update(codebook: codebook, latents: latents, codes: codes)
        }
        XCTAssertGreaterThan(before, 0.2)
        XCTAssertLessThan(quantizationError(), 0.02)
        XCTAssertGreaterThan(restarted, 0)
        // The restarted code now sits among the data instead of far away.
        XCTAssertTrue(codebook.toArray().allSatisfy { abs($0) < 1.5 })
    }
}
