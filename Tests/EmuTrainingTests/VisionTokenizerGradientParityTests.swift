import Foundation
import Testing
import EmuTensor
import EmuIO
import Emu3
@testable import EmuTraining

/// The VQ-VAE's training step against PyTorch: the tiny Emu3 checkpoint's vision tokenizer (video
/// path, temporal factor 4, attention, BatchNorm3d in eval mode), one clip, and the loss, codes,
/// reconstruction and every parameter gradient that transformers' `Emu3VQVAE` modules computed
/// (`Tests/Fixtures/golden/grad_vq.*`, `vq_forward.safetensors`, by scripts/reference/goldens.py).
///
/// The reference loss is mse(recon, x) + mse(q, sg(z)) + 0.25 mse(z, sg(q)); its middle term (the
/// codebook loss) only moves the codebook, which we train by EMA instead of by gradient, so the
/// codebook's gradient is the one reference gradient not compared.
@Suite("Vision tokenizer gradient parity")
struct VisionTokenizerGradientParityTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/golden")

    @Test("loss, codes, reconstruction and every parameter gradient match PyTorch")
    func matchesPyTorch() throws {
        let model = try TrainableVisionTokenizer(directory: TinyEmu3.folder.path)
        let meta = try JSONSerialization.jsonObject(
            with: Data(contentsOf: Self.golden.appendingPathComponent("grad_vq.json"))) as! [String: Any]
        let expectedLoss = Float((meta["loss"] as! NSNumber).doubleValue)
        let io = try SafetensorsFile(path: Self.golden.appendingPathComponent("vq_forward.safetensors").path).allTensors()
        let expectedGradients = try SafetensorsFile(path: Self.golden.appendingPathComponent("grad_vq.safetensors").path).allTensors()
        let pixels = try #require(io["pixel_values"])
        let clip = pixels.reshaped(Array(pixels.shape.dropFirst()))  // [4, 3, 16, 16]

        model.zeroGradients()
        let forward = try model.forward(video: clip, commitmentBeta: 0.25)
        forward.loss.backward()

        // Codes: the reference's code margin (0.026) is far above float32 rounding of distances.
        let expectedCodes = try #require(io["codes"]).to(.float32).toArray().map { Int($0) }
        #expect(forward.codes == expectedCodes)

        // The codebook loss equals the commitment loss divided by beta (same squared distance).
        let codebookLoss = forward.commitmentLoss.item / 0.25
        let loss = forward.loss.item + codebookLoss
        #expect(abs(loss - expectedLoss) <= 1e-4 * abs(expectedLoss), "loss \(loss) vs \(expectedLoss)")

        let reference = try #require(io["reconstruction"]).toArray()
        let reconstruction = forward.reconstruction.toArray()
        #expect(reconstruction.count == reference.count)
        let reconstructionError = zip(reconstruction, reference).map { abs($0 - $1) }.max() ?? .infinity
        #expect(reconstructionError <= 1e-4, "reconstruction max |diff| \(reconstructionError)")

        // Every reference gradient but the codebook's, by standalone name, relative to the
        // tensor's largest reference entry; tolerance 1e-4 (float32 through ~40 layers of conv; measured 1.4e-5).
        // Some gradients are zero in exact arithmetic (a conv bias followed by GroupNorm, the key
        // bias of attention: softmax ignores a shift shared by a query's scores) and come out as
        // rounding noise on both sides (below 1e-6 x the largest gradient in the model): for
        // those, ours must be that small too.
        let codebookKey = "vqmodel." + TrainableVisionTokenizer.codebookName
        #expect(expectedGradients[codebookKey] != nil)
        let compared = expectedGradients.filter { $0.key != codebookKey }
        let largest = compared.values.map { $0.toArray().map(abs).max() ?? 0 }.max() ?? 0
        #expect(largest > 0)
        #expect(Set(compared.keys.map { String($0.dropFirst("vqmodel.".count)) }) == Set(model.parameters.keys))
        var worst: (name: String, error: Float) = ("", 0)
        for (key, expected) in compared.sorted(by: { $0.key < $1.key }) {
            let name = String(key.dropFirst("vqmodel.".count))
            let grad = try #require(model.parameters[name]?.grad, "no gradient for \(name)")
            #expect(grad.shape == expected.shape, "\(name)")
            let (g, r) = (grad.toArray(), expected.toArray())
            let referenceMax = r.map(abs).max() ?? 0
            if referenceMax < 1e-6 * largest {
                let ours = g.map(abs).max() ?? .infinity
                #expect(ours < 1e-6 * largest, "\(name): zero in exact arithmetic, PyTorch \(referenceMax), ours \(ours)")
                continue
            }
            let scale = referenceMax
            let error = (zip(g, r).map { abs($0 - $1) }.max() ?? .infinity) / scale
            if error > worst.error { worst = (name, error) }
            #expect(error <= 1e-4, "\(name): relative max |diff| \(error), max |ref| \(scale)")
        }
        print("VQ gradient parity: worst relative difference \(worst.error) (\(worst.name)) over \(compared.count) tensors, largest gradient \(largest)")
    }

    @Test("fine-tuning starts from an -hf checkpoint's vision tokenizer weights")
    func loadsCheckpointForFineTuning() throws {
        let model = try TrainableVisionTokenizer(directory: TinyEmu3.folder.path)
        let inference = try VisionTokenizer(directory: TinyEmu3.folder.path)
        let io = try SafetensorsFile(path: Self.golden.appendingPathComponent("vq_forward.safetensors").path).allTensors()
        let pixels = try #require(io["pixel_values"])
        let clip = pixels.reshaped(Array(pixels.shape.dropFirst()))
        #expect(try model.network.encode(video: clip).values == inference.encode(video: clip).values)
        #expect(model.parameters.count + 1 == (try VisionTokenizer.weightShapes(for: model.configuration))
            .filter { !$0.name.contains("running_") }.count)
    }
}
