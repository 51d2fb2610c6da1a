import Foundation
import Emu3
import XCTest

final class SamplerTests: XCTestCase {
    /// Random score rows with distinct values.
    func rows(count: Int, width: Int, seed: UInt64) -> [[Float]] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in (0..<width).map { _ in Float(random.nextUnitFloat() * 8 - 4) } }
    }

    /// top-k keeps exactly the tokens with fewer than k strictly larger scores (brute force).
    func testTopKMatchesBruteForce() {
        for (n, scores) in rows(count: 50, width: 40, seed: 1).enumerated() {
            let k = n % 40 + 1
            var masked = scores
            Sampler.keepTopK(&masked, k)
            for i in scores.indices {
                let larger = scores.filter { $0 > scores[i] }.count
                XCTAssertEqual(masked[i] == -.infinity, larger >= k, "row \(n) token \(i)")
            }
        }
    }

    /// top-p removes a token when the float64 mass of all tokens no more probable than it is at
    /// most 1 - p (never the most probable one), transformers' rule, by brute force.
    func testTopPMatchesBruteForce() {
        for (n, scores) in rows(count: 50, width: 30, seed: 2).enumerated() {
            let p = Float([0.1, 0.5, 0.8, 0.95, 1.0][n % 5])
            var masked = scores
            Sampler.keepTopP(&masked, p)
            let m = Double(scores.max()!)
            let weights = scores.map { Foundation.exp(Double($0) - m) }
            let total = weights.reduce(0, +)
            let best = scores.firstIndex(of: scores.max()!)!
            for i in scores.indices {
                let mass = weights.indices.filter { weights[$0] <= weights[i] }.map { weights[$0] / total }.reduce(0, +)
                let removed = i != best && mass <= 1 - Double(p)
                XCTAssertEqual(masked[i] == -.infinity, removed, "row \(n) token \(i) p \(p) mass \(mass)")
            }
        }
    }

    func testSeededSamplingIsReproducibleAndFollowsTheSoftmax() {
        let scores: [Float] = [0.5, -1, 2, 0, 1.25]
        func draws(seed: UInt64, count: Int) -> [Int] {
            var sampler = Sampler(SamplingParameters(temperature: 1, seed: seed))
            return (0..<count).map { _ in sampler.next(scores) }
        }
        XCTAssertEqual(draws(seed: 3, count: 100), draws(seed: 3, count: 100))
        XCTAssertNotEqual(draws(seed: 3, count: 100), draws(seed: 4, count: 100))
        // 40,000 draws: each frequency within 0.01 of its probability (about 5 standard deviations).
        let sample = draws(seed: 5, count: 40_000)
        let probabilities = Sampler.softmax(scores)
        for token in scores.indices {
            let frequency = Double(sample.filter { $0 == token }.count) / Double(sample.count)
            XCTAssertEqual(frequency, Double(probabilities[token]), accuracy: 0.01, "token \(token)")
        }
    }

    func testGreedyAndMaskedSampling() {
        var greedy = Sampler(.greedy)
        XCTAssertEqual(greedy.next([1, 3, 3, -2]), 1)  // first of ties, like torch.argmax
        var sampler = Sampler(SamplingParameters(temperature: 0.7, topK: 2, seed: 9))
        for _ in 0..<200 { XCTAssertTrue([1, 2].contains(sampler.next([0, 3, 2.5, -1]))) }
        var masked = Sampler(SamplingParameters(seed: 1))
        for _ in 0..<200 { XCTAssertEqual(masked.next([-.infinity, -.infinity, 1, -.infinity]), 2) }
    }
}
