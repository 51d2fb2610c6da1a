import EmuIO
import EmuTensor
import Foundation
import XCTest
@testable import Emu3

/// Loading the vision tokenizer from the three layouts, and errors that name the weight.
final class VisionTokenizerLoadingTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/vq")

    func weights(_ config: String) throws -> [String: Tensor] {
        try SafetensorsFile(path: Self.fixtures.appendingPathComponent("\(config)/model.safetensors").path).allTensors()
    }

    func configuration(_ config: String) throws -> VisionTokenizerConfiguration {
        try VisionTokenizer.configuration(directory: Self.fixtures.appendingPathComponent(config).path)
    }

    func sampleCodes(_ vq: VisionTokenizer) -> VisionCodes {
        VisionCodes(frames: 1, height: 3, width: 4, values: (0..<12).map { ($0 * 37) % vq.configuration.codebookSize })
    }

    /// The fixture renamed the way BAAI's original model names its weights (names from
    /// baai_names.json, checked in Python against BAAI's model), attention projections as 1x1
    /// convolutions: the same network, bit for bit.
    func testBAAILayoutLoadsTheSameWeights() throws {
        for config in ["widths", "attention"] {
            let hf = try weights(config)
            let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("\(config)/baai_names.json"))
            let names = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: String])
            var baai: [String: Tensor] = [:]
            for (name, tensor) in hf {
                let key = try XCTUnwrap(names[name], name)
                let isProjection = ["q", "k", "v", "proj_out"].contains(key.split(separator: ".").dropLast().last.map(String.init) ?? "")
                baai[key] = isProjection && tensor.rank == 2 ? tensor.reshaped(tensor.shape + [1, 1]) : tensor
                XCTAssertEqual(VisionTokenizerLayout.baaiName(forTransformersName: name), key)
            }
            let reference = try VisionTokenizer(configuration: configuration(config), weights: hf)
            let original = try VisionTokenizer(configuration: configuration(config), weights: baai)
            let codes = sampleCodes(reference)
            XCTAssertEqual(try original.decodeImage(codes).toArray(), try reference.decodeImage(codes).toArray(), config)
        }
    }

    func testBAAIConfigurationKeys() throws {
        let baai: [String: Any] = ["codebook_size": 256, "embed_dim": 4, "z_channels": 4, "double_z": false,
                                   "ch": 32, "ch_mult": [2, 1], "num_res_blocks": 1, "attn_resolutions": [Int](),
                                   "temporal_downsample_factor": 4, "model_type": "Emu3VisionVQ"]
        XCTAssertEqual(try VisionTokenizerConfiguration(json: baai), try configuration("widths"))
    }

    /// An -hf checkpoint keeps the tokenizer under `vqmodel.` (hub) or `model.vqmodel.` (in
    /// memory), beside the text model's weights.
    func testLoadsFromFullCheckpointNames() throws {
        let hf = try weights("widths")
        let reference = try VisionTokenizer(configuration: configuration("widths"), weights: hf)
        for prefix in ["vqmodel.", "model.vqmodel."] {
            var full = Dictionary(uniqueKeysWithValues: hf.map { (prefix + $0.key, $0.value) })
            full["text_model.model.norm.weight"] = Tensor(zeros: [8])
            let store = try WeightStore(tensors: full)
            let vq = try VisionTokenizer(configuration: configuration("widths"),
                                         weights: VisionTokenizer.tokenizerScope(of: store))
            let codes = sampleCodes(vq)
            XCTAssertEqual(try vq.decodeImage(codes).toArray(), try reference.decodeImage(codes).toArray(), prefix)
        }
    }

    func testMissingAndSurplusWeightsAreNamed() throws {
        var hf = try weights("widths")
        hf["encoder.conv_in.bias"] = nil
        XCTAssertThrowsError(try VisionTokenizer(configuration: configuration("widths"), weights: hf)) { error in
            XCTAssertEqual(error as? VisionTokenizerError, .missingWeight("encoder.conv_in.bias"))
        }
        hf = try weights("widths")
        hf["decoder.extra.weight"] = Tensor(zeros: [2])
        XCTAssertThrowsError(try VisionTokenizer(configuration: configuration("widths"), weights: hf)) { error in
            XCTAssertEqual(error as? VisionTokenizerError, .unexpectedWeight("decoder.extra.weight"))
        }
        hf = try weights("widths")
        hf["quant_conv.conv.bias"] = Tensor(zeros: [5])
        XCTAssertThrowsError(try VisionTokenizer(configuration: configuration("widths"), weights: hf)) { error in
            XCTAssertEqual(error as? VisionTokenizerError, .weightShape(name: "quant_conv.conv.bias", expected: [4], found: [5]))
        }
    }
}
