import Foundation
import XCTest
@testable import EmuIO

/// `config.json` (both layouts) and `preprocessor_config.json` decoding.
final class ConfigTests: XCTestCase {
    private func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: Fixtures.io.appendingPathComponent(name))
    }

    /// Our defaults equal transformers' (its full `to_json_string(use_diff=False)` dump).
    func testDefaultsMatchTransformers() throws {
        let full = try Emu3Config.decode(try fixture("hf_default_config.json"))
        let sparse = try Emu3Config.decode(Data(#"{"model_type": "emu3", "vocabulary_map": {"<image>": 7, "<|visual token 000000|>": 10, "<|visual token 000001|>": 11}}"#.utf8))
        XCTAssertEqual(sparse, full)
        XCTAssertEqual(full.layout, .huggingFace)
        XCTAssertEqual(full.textConfig.hiddenSize, 4096)
        XCTAssertEqual(full.textConfig.numKeyValueHeads, 8)
        XCTAssertEqual(full.textConfig.ropeTheta, 1_000_000)
        XCTAssertEqual(full.textConfig.maxPositionEmbeddings, 9216)
        XCTAssertEqual(full.vqConfig?.hiddenSize, 1024)
        XCTAssertEqual(full.vqConfig?.spatialFactor, 8)
        XCTAssertEqual(full.imageTokenID, 7)
    }

    func testTinyConfigWrittenByTransformers() throws {
        let config = try Emu3Config.decode(try fixture("hf_tiny_config.json"))
        let text = config.textConfig
        XCTAssertEqual([text.vocabSize, text.hiddenSize, text.intermediateSize, text.numHiddenLayers,
                        text.numAttentionHeads, text.numKeyValueHeads, text.maxPositionEmbeddings], [64, 32, 48, 2, 4, 2, 128])
        XCTAssertEqual(text.rmsNormEps, 1e-6)
        XCTAssertEqual(text.ropeTheta, 10_000)
        XCTAssertTrue(text.attentionBias)
        XCTAssertEqual(text.headDim, 8)
        XCTAssertEqual([text.padTokenID, text.bosTokenID, text.eosTokenID], [0, 1, 2])
        XCTAssertNil(text.ropeScaling)
        let vq = try XCTUnwrap(config.vqConfig)
        XCTAssertEqual(vq.channelMultiplier, [1, 2])
        XCTAssertEqual(vq.attnResolutions, [])
        XCTAssertEqual([vq.codebookSize, vq.baseChannels, vq.hiddenSize, vq.temporalDownsampleFactor, vq.numResBlocks], [16, 32, 64, 2, 1])
        XCTAssertEqual(vq.spatialFactor, 2)
        XCTAssertEqual(config.vocabularyMap?["<|visual token 000001|>"], 11)
    }

    func testEncodeDecodeRoundTrip() throws {
        let config = try Emu3Config.decode(try fixture("hf_tiny_config.json"))
        let again = try Emu3Config.decode(try JSONEncoder().encode(config))
        XCTAssertEqual(again, config)
    }

    func testMissingVocabularyMapIsNamed() {
        XCTAssertThrowsError(try Emu3Config.decode(Data(#"{"model_type": "emu3", "text_config": {}}"#.utf8), file: "x/config.json")) { error in
            let e = error as? ConfigError
            XCTAssertEqual(e?.keyPath, "vocabulary_map")
            XCTAssertTrue("\(error)".contains("x/config.json") && "\(error)".contains("vocabulary_map"), "\(error)")
        }
    }

    func testWrongTypeNamesNestedKey() {
        let json = #"{"vocabulary_map": {}, "text_config": {"hidden_size": "big"}}"#
        XCTAssertThrowsError(try Emu3Config.decode(Data(json.utf8))) { error in
            XCTAssertEqual((error as? ConfigError)?.keyPath, "text_config.hidden_size")
        }
    }

    func testUnsupportedRopeScalingIsRejected() {
        let json = #"{"vocabulary_map": {}, "text_config": {"rope_scaling": {"rope_type": "yarn", "factor": 4.0}}}"#
        XCTAssertThrowsError(try Emu3Config.decode(Data(json.utf8))) { error in
            XCTAssertEqual((error as? ConfigError)?.keyPath, "text_config.rope_scaling")
            XCTAssertTrue("\(error)".contains("yarn"), "\(error)")
        }
        let plain = #"{"vocabulary_map": {}, "text_config": {"rope_scaling": {"rope_type": "default"}}}"#
        XCTAssertEqual(try Emu3Config.decode(Data(plain.utf8)).textConfig.ropeScaling?.ropeType, "default")
    }

    func testInconsistentHeadsAreRejected() {
        let json = #"{"vocabulary_map": {}, "text_config": {"hidden_size": 30, "num_attention_heads": 4}}"#
        XCTAssertThrowsError(try Emu3Config.decode(Data(json.utf8)))
    }

    /// BAAI's Emu3-Gen/Chat config: flat Llama fields, special ids, no vq_config / vocabulary_map.
    func testBAAIFlatLayout() throws {
        let json = #"""
        {"architectures": ["Emu3ForCausalLM"], "model_type": "Emu3", "vocab_size": 184622, "hidden_size": 4096,
         "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
         "max_position_embeddings": 9216, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "rope_scaling": null,
         "bos_token_id": 151849, "eos_token_id": 151850, "pad_token_id": 151643, "img_token_id": 151851,
         "boi_token_id": 151852, "eoi_token_id": 151853, "eol_token_id": 151846, "eof_token_id": 151847,
         "image_area": 518400, "attention_dropout": 0.1, "tie_word_embeddings": false, "torch_dtype": "float32"}
        """#
        let config = try Emu3Config.decode(Data(json.utf8))
        XCTAssertEqual(config.layout, .baai)
        XCTAssertNil(config.vqConfig)
        XCTAssertNil(config.vocabularyMap)
        XCTAssertEqual(config.textConfig.eolTokenID, 151_846)
        XCTAssertEqual(config.textConfig.boiTokenID, 151_852)
        XCTAssertEqual(config.textConfig.imageArea, 518_400)
        XCTAssertEqual(config.textConfig.numKeyValueHeads, 8)
    }

    /// BAAI's Emu3-VisionTokenizer config (model_type Emu3VisionVQ: z_channels, ch, ch_mult...).
    func testBAAIVisionTokenizerLayout() throws {
        let json = #"""
        {"model_type": "Emu3VisionVQ", "codebook_size": 32768, "embed_dim": 4, "z_channels": 4, "double_z": false,
         "in_channels": 3, "out_channels": 3, "temporal_downsample_factor": 4, "ch": 256, "ch_mult": [1, 2, 2, 4],
         "num_res_blocks": 2, "attn_resolutions": [3], "dropout": 0.0}
        """#
        let vq = try Emu3VQConfig.decode(Data(json.utf8))
        let hf = try Emu3Config.decode(try fixture("hf_default_config.json")).vqConfig
        XCTAssertEqual(vq, hf, "the released tokenizer's BAAI config equals transformers' defaults")
        let small = try Emu3VQConfig.decode(Data(#"{"ch": 64, "ch_mult": [1, 2, 2]}"#.utf8))
        XCTAssertEqual(small.hiddenSize, 128)
        XCTAssertEqual(small.spatialFactor, 4)
    }

    func testNullKeyValueHeadsMeansMultiHead() throws {
        let json = #"{"vocabulary_map": {}, "text_config": {"num_attention_heads": 4, "hidden_size": 32, "num_key_value_heads": null, "eos_token_id": [2, 3]}}"#
        let text = try Emu3Config.decode(Data(json.utf8)).textConfig
        XCTAssertEqual(text.numKeyValueHeads, 4)
        XCTAssertEqual(text.eosTokenID, 2)
    }

    func testPreprocessorConfigFromTransformers() throws {
        let config = try PreprocessorConfig.decode(try fixture("hf_preprocessor_config.json"))
        XCTAssertEqual(config.minPixels, 4096)
        XCTAssertEqual(config.maxPixels, 16_384)
        XCTAssertEqual(config.spatialFactor, 8)
        XCTAssertEqual(config.imageMean, [0.5, 0.5, 0.5])
        XCTAssertEqual(config.imageStd, [0.5, 0.5, 0.5])
        XCTAssertEqual(config.resample, 3)
        XCTAssertEqual(config.rescaleFactor, 1.0 / 255.0)
        XCTAssertEqual(config.imageProcessorType, "Emu3ImageProcessor")
        XCTAssertEqual(try PreprocessorConfig.decode(try JSONEncoder().encode(config)), config)
    }

    func testPreprocessorDefaultsAndErrors() throws {
        let defaults = try PreprocessorConfig.decode(Data("{}".utf8))
        XCTAssertEqual(defaults.minPixels, 512 * 512)
        XCTAssertEqual(defaults.maxPixels, 1024 * 1024)
        XCTAssertEqual(defaults.imageMean, PreprocessorConfig.clipMean)
        XCTAssertTrue(defaults.doPad)
        XCTAssertEqual(try PreprocessorConfig.decode(Data(#"{"image_mean": 0.5}"#.utf8)).imageMean, [0.5, 0.5, 0.5])
        XCTAssertThrowsError(try PreprocessorConfig.decode(Data(#"{"min_pixels": 100, "max_pixels": 10}"#.utf8)))
        XCTAssertThrowsError(try PreprocessorConfig.load(path: "/nonexistent/preprocessor_config.json")) { error in
            XCTAssertEqual((error as? ConfigError)?.file, "/nonexistent/preprocessor_config.json")
        }
    }
}
