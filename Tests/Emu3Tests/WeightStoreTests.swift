import EmuIO
import EmuTensor
import Foundation
import XCTest
@testable import Emu3

final class WeightStoreTests: XCTestCase {
    private func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("weightstore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testHubNamesAreNormalisedToInMemoryNames() throws {
        XCTAssertEqual(WeightStore.canonicalName("text_model.model.layers.0.mlp.up_proj.weight"), "model.text_model.layers.0.mlp.up_proj.weight")
        XCTAssertEqual(WeightStore.canonicalName("text_model.lm_head.weight"), "lm_head.weight")
        XCTAssertEqual(WeightStore.canonicalName("vqmodel.encoder.conv_in.weight"), "model.vqmodel.encoder.conv_in.weight")
        XCTAssertEqual(WeightStore.canonicalName("text_model.embed_tokens.weight"), "model.text_model.embed_tokens.weight")
        XCTAssertEqual(WeightStore.canonicalName("model.text_model.norm.weight"), "model.text_model.norm.weight")
        XCTAssertEqual(WeightStore.canonicalName("lm_head.weight"), "lm_head.weight")
        XCTAssertNil(WeightStore.canonicalName("vqmodel.encoder.time_res_stack.0.norm1.num_batches_tracked"))
    }

    func testLoadsHubCheckpointFromFolderWithScopesAndUsage() throws {
        let folder = try temporaryFolder()
        try SafetensorsWriter.write([
            "text_model.model.embed_tokens.weight": Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2]).to(.bfloat16),
            "text_model.lm_head.weight": Tensor([7, 8, 9, 10, 11, 12], shape: [3, 2]),
            "vqmodel.quantize.embedding.weight": Tensor([0.5, -0.5], shape: [1, 2]),
            "vqmodel.encoder.bn.num_batches_tracked": makeInt64Scalar(),
        ], metadata: ["format": "pt"], to: folder.appendingPathComponent("model.safetensors").path)

        let store = try WeightStore.load(directory: folder.path)
        XCTAssertEqual(store.names, ["lm_head.weight", "model.text_model.embed_tokens.weight", "model.vqmodel.quantize.embedding.weight"])
        let text = store.scoped("model.text_model.")
        XCTAssertEqual(text.names, ["embed_tokens.weight"])
        let embed = try text.tensor("embed_tokens.weight", shape: [3, 2])
        XCTAssertEqual(embed.dtype, .bfloat16)
        XCTAssertTrue(embed.storage.isReadOnly, "weights stay memory-mapped")
        XCTAssertEqual(embed.toArray(), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(store.unusedNames(), ["lm_head.weight", "model.vqmodel.quantize.embedding.weight"])
        XCTAssertThrowsError(try store.checkAllUsed()) { error in
            XCTAssertEqual(error as? WeightStoreError, .unusedTensors(names: ["lm_head.weight", "model.vqmodel.quantize.embedding.weight"]))
        }
        _ = try store.tensor("lm_head.weight")
        store.scoped("model.vqmodel.").markUsed("quantize.embedding.weight")
        XCTAssertNoThrow(try store.checkAllUsed())
    }

    func testMissingKeyAndWrongShapeAreNamed() throws {
        let store = try WeightStore(tensors: ["model.text_model.norm.weight": Tensor([1, 1, 1], shape: [3])])
        let text = store.scoped("model.text_model.")
        XCTAssertThrowsError(try text.tensor("norm.weight", shape: [4])) { error in
            XCTAssertEqual(error as? WeightStoreError, .shapeMismatch(name: "model.text_model.norm.weight", expected: [4], actual: [3]))
            XCTAssertTrue("\(error)".contains("model.text_model.norm.weight") && "\(error)".contains("[4]") && "\(error)".contains("[3]"))
        }
        XCTAssertThrowsError(try text.tensor("layers.0.input_layernorm.weight")) { error in
            XCTAssertEqual(error as? WeightStoreError, .missingTensor(name: "model.text_model.layers.0.input_layernorm.weight"))
        }
        XCTAssertNil(try text.optionalTensor("layers.0.self_attn.q_proj.bias"))
        XCTAssertEqual(store.unusedNames(), ["model.text_model.norm.weight"], "a failed shape check does not count as use")
    }

    func testBothSpellingsOfOneWeightIsAnError() {
        XCTAssertThrowsError(try WeightStore(tensors: [
            "lm_head.weight": Tensor([1], shape: [1]),
            "text_model.lm_head.weight": Tensor([2], shape: [1]),
        ])) { error in
            XCTAssertEqual(error as? WeightStoreError,
                           .duplicateName(name: "lm_head.weight", firstKey: "lm_head.weight", secondKey: "text_model.lm_head.weight"))
        }
    }

    func testShardedCheckpointAndMissingShard() throws {
        let folder = try temporaryFolder()
        try SafetensorsWriter.write(["a.weight": Tensor([1, 2], shape: [2])], to: folder.appendingPathComponent("s1.safetensors").path)
        try SafetensorsWriter.write(["b.weight": Tensor([3], shape: [1])], to: folder.appendingPathComponent("s2.safetensors").path)
        let index = #"{"metadata": {}, "weight_map": {"a.weight": "s1.safetensors", "b.weight": "s2.safetensors"}}"#
        try Data(index.utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
        let store = try WeightStore.load(directory: folder.path)
        XCTAssertEqual(try store.tensor("b.weight", shape: [1]).toArray(), [3])

        try FileManager.default.removeItem(at: folder.appendingPathComponent("s2.safetensors"))
        XCTAssertThrowsError(try WeightStore.load(directory: folder.path)) { error in
            guard case .checkpoint(let inner) = error as? WeightStoreError else { return XCTFail("\(error)") }
            XCTAssertEqual(inner.kind, .missingShard(shard: "s2.safetensors"))
            XCTAssertEqual(inner.tensor, "b.weight")
        }
    }

    private func makeInt64Scalar() -> Tensor {
        let t = Tensor(zeros: [], dtype: .int64)
        t.rawPointer.storeBytes(of: Int64(42), as: Int64.self)
        return t
    }
}
