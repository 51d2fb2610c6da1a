import Foundation
import XCTest
import EmuTensor
import EmuIO
import Emu3
@testable import EmuTraining

/// The llm.c `test_gpt2` pattern: the tiny Emu3 text model from `Tests/Fixtures/tiny-emu3`, one
/// batch, and the loss and every parameter gradient that PyTorch computed for it
/// (`Tests/Fixtures/golden/grad_transformer.*`, made by scripts/reference/make_checkpoint.py).
final class TransformerGradientParityTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    func testLossAndEveryGradientMatchPyTorch() throws {
        let model = try TinyEmu3.trainableTransformer()
        let golden = Self.fixtures.appendingPathComponent("golden")
        let meta = try JSONSerialization.jsonObject(
            with: Data(contentsOf: golden.appendingPathComponent("grad_transformer.json"))) as! [String: Any]
        let ids = (meta["input_ids"] as! [[Int]])
        let expectedLoss = Float((meta["loss"] as! NSNumber).doubleValue)
        let expected = try SafetensorsFile(path: golden.appendingPathComponent("grad_transformer.safetensors").path).allTensors()

        // transformers' labels=input_ids: position t predicts ids[t+1], every position weighted 1.
        let logits = model.logits(forTraining: ids)
        let s = ids[0].count
        var targets: [Int] = [], weights: [Float] = []
        for row in ids { for t in 0..<s { targets.append(t + 1 < s ? row[t + 1] : 0); weights.append(t + 1 < s ? 1 : 0) } }
        let loss = CrossEntropy.loss(logits: logits, targets: targets, weights: weights)
        loss.backward()

        XCTAssertEqual(loss.item, expectedLoss, accuracy: 1e-4 * abs(expectedLoss), "loss")
        XCTAssertEqual(Set(expected.keys), Set(model.parameters.keys), "gradient names")
        var worst: (String, Float) = ("", 0)
        for (name, reference) in expected.sorted(by: { $0.key < $1.key }) {
            guard let grad = model.parameters[name]?.grad else { XCTFail("no gradient for \(name)"); continue }
            XCTAssertEqual(grad.shape, reference.shape, name)
            let (g, r) = (grad.toArray(), reference.toArray())
            // Relative to the tensor's largest reference gradient (elementwise relative error is
            // meaningless for entries that are zero up to rounding).
            let scale = max(r.map(abs).max() ?? 0, 1e-12)
            let difference = zip(g, r).map { abs($0 - $1) }.max() ?? 0
            if difference / scale > worst.1 { worst = (name, difference / scale) }
            XCTAssertLessThanOrEqual(difference / scale, 1e-4, "\(name): max |diff| \(difference), max |ref| \(scale)")
        }
        print("worst relative gradient difference: \(worst.1) (\(worst.0))")
    }
}

/// The tiny random-weight Emu3 checkpoint of the fixtures.
enum TinyEmu3 {
    static let folder = TransformerGradientParityTests.fixtures.appendingPathComponent("tiny-emu3")

    static func configuration() throws -> Transformer.Configuration {
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("config.json"))) as! [String: Any]
        return try JSONDecoder().decode(Transformer.Configuration.self,
                                        from: JSONSerialization.data(withJSONObject: config["text_config"]!))
    }

    static func trainableTransformer() throws -> TrainableTransformer {
        try TrainableTransformer(configuration: configuration(), weights: WeightStore.load(directory: folder.path))
    }
}
