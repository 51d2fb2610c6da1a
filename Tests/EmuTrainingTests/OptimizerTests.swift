import Foundation
import XCTest
import EmuTensor
@testable import EmuTraining

/// Optimizer, loss and clipping against PyTorch goldens (scripts/reference/make_training_fixtures.py).
final class OptimizerTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/training")

    func load(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func floats(_ any: Any?) -> [Float] { (any as! [NSNumber]).map { $0.floatValue } }

    func assertClose(_ a: [Float], _ b: [Float], relative: Float, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        var num: Float = 0, den: Float = 0
        for (x, y) in zip(a, b) { num += (x - y) * (x - y); den += y * y }
        XCTAssertLessThanOrEqual((num / max(den, 1e-30)).squareRoot(), relative, file: file, line: line)
    }

    /// Four AdamW steps with decay on a matrix and none on a norm weight; tolerance 1e-6 relative L2.
    func testAdamWMatchesTorch() throws {
        let f = try load("adamw.json")
        let shapes = f["shapes"] as! [String: [Int]]
        let initial = f["initial"] as! [String: Any]
        var params: [String: Tensor] = [:]
        for (name, shape) in shapes { params[name] = Tensor(floats(initial[name]), shape: shape).requiringGradient(name: name) }
        let optimizer = AdamW(configuration: .init(learningRate: 1e-2, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1))
        for step in f["steps"] as! [[String: Any]] {
            let grads = step["grads"] as! [String: Any]
            for (name, p) in params {
                p.zeroGradient()
                // Seed the leaf's gradient through a backward pass of sum(p * g).
                p.multiplying(Tensor(floats(grads[name]), shape: p.shape)).sum().backward()
            }
            optimizer.update(params)
            let after = step["params_after"] as! [String: Any]
            for (name, p) in params { assertClose(p.toArray(), floats(after[name]), relative: 1e-6) }
        }
        XCTAssertEqual(optimizer.step, 4)
    }

    /// Weighted cross-entropy value and gradient, 1e-5 relative.
    func testWeightedCrossEntropyMatchesTorch() throws {
        let f = try load("cross_entropy.json")
        let logits = Tensor(floats(f["logits"]), shape: f["shape"] as! [Int]).requiringGradient()
        let loss = CrossEntropy.loss(logits: logits, targets: f["targets"] as! [Int], weights: floats(f["weights"]))
        XCTAssertEqual(loss.item, (f["loss"] as! NSNumber).floatValue, accuracy: 1e-5)
        loss.backward()
        assertClose(try XCTUnwrap(logits.grad).toArray(), floats(f["grad"]), relative: 1e-5)
    }

    func testGlobalNormClippingMatchesTorch() throws {
        let f = try load("clip.json")
        let shapes = f["shapes"] as! [[Int]]
        let grads = (f["grads"] as! [Any]).map(floats)
        var params: [String: Tensor] = [:]
        for (i, shape) in shapes.enumerated() {
            let p = Tensor(zeros: shape).requiringGradient()
            p.multiplying(Tensor(grads[i], shape: shape)).sum().backward()
            params["p\(i)"] = p
        }
        let norm = GradientClipping.clipGlobalNorm(params, maxNorm: 1)
        XCTAssertEqual(norm, (f["norm"] as! NSNumber).floatValue, accuracy: 1e-4)
        let clipped = (f["clipped"] as! [Any]).map(floats)
        for i in 0..<shapes.count { assertClose(params["p\(i)"]!.grad!.toArray(), clipped[i], relative: 1e-6) }
    }

    func testScheduleWarmsUpThenDecaysToFloor() {
        let s = LearningRateSchedule(peak: 1e-3, warmupSteps: 10, totalSteps: 110, minimumRatio: 0.1)
        XCTAssertEqual(s.rate(at: 0), 1e-4, accuracy: 1e-9)
        XCTAssertEqual(s.rate(at: 9), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(s.rate(at: 60), 0.55e-3, accuracy: 1e-7)   // half-way through the cosine
        XCTAssertEqual(s.rate(at: 110), 1e-4, accuracy: 1e-9)
        XCTAssertEqual(s.rate(at: 500), 1e-4, accuracy: 1e-9)
    }
}
