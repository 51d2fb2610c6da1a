import EmuTensor
import Foundation
import XCTest
@testable import EmuIO

/// Sharded checkpoints (`model.safetensors.index.json`) and folders of files.
final class SafetensorsShardTests: XCTestCase {
    private func writeShardedCheckpoint(in folder: URL, omitShard: String? = nil,
                                        extraIndexEntry: (String, String)? = nil) throws {
        let shards: [String: [String: Tensor]] = [
            "model-00001-of-00002.safetensors": ["embed.weight": Tensor([1, 2, 3, 4], shape: [2, 2]),
                                                 "layers.0.w": Tensor([5, 6], shape: [2]).to(.bfloat16)],
            "model-00002-of-00002.safetensors": ["lm_head.weight": Tensor([7, 8, 9], shape: [3])],
        ]
        var weightMap: [String: String] = [:]
        for (shard, tensors) in shards {
            for name in tensors.keys { weightMap[name] = shard }
            if shard != omitShard {
                try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: folder.appendingPathComponent(shard).path)
            }
        }
        if let (name, shard) = extraIndexEntry { weightMap[name] = shard }
        let index: [String: Any] = ["metadata": ["total_size": 26], "weight_map": weightMap]
        try JSONSerialization.data(withJSONObject: index).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
    }

    func testLoadsShardedCheckpointFromFolder() throws {
        let folder = try makeTemporaryFolder(self)
        try writeShardedCheckpoint(in: folder)
        let checkpoint = try SafetensorsCheckpoint.open(directory: folder.path)
        XCTAssertEqual(checkpoint.names, ["embed.weight", "layers.0.w", "lm_head.weight"])
        XCTAssertEqual(checkpoint.files.count, 2)
        XCTAssertEqual(checkpoint.metadata["total_size"], "26")
        XCTAssertEqual(try checkpoint.tensor(named: "lm_head.weight").toArray(), [7, 8, 9])
        let w = try checkpoint.tensor(named: "layers.0.w")
        XCTAssertEqual(w.dtype, .bfloat16)
        XCTAssertEqual(w.toArray(), [5, 6])
    }

    func testMissingShardNamesShardAndTensor() throws {
        let folder = try makeTemporaryFolder(self)
        try writeShardedCheckpoint(in: folder, omitShard: "model-00002-of-00002.safetensors")
        XCTAssertThrowsError(try SafetensorsCheckpoint.open(directory: folder.path)) { error in
            let e = error as? SafetensorsError
            XCTAssertEqual(e?.kind, .missingShard(shard: "model-00002-of-00002.safetensors"))
            XCTAssertEqual(e?.tensor, "lm_head.weight")
            XCTAssertTrue("\(error)".contains("model.safetensors.index.json"), "\(error)")
        }
    }

    func testIndexEntryAbsentFromItsShard() throws {
        let folder = try makeTemporaryFolder(self)
        try writeShardedCheckpoint(in: folder, extraIndexEntry: ("ghost", "model-00002-of-00002.safetensors"))
        XCTAssertThrowsError(try SafetensorsCheckpoint.open(directory: folder.path)) { error in
            XCTAssertEqual((error as? SafetensorsError)?.kind, .tensorMissingFromShard(shard: "model-00002-of-00002.safetensors"))
            XCTAssertEqual((error as? SafetensorsError)?.tensor, "ghost")
        }
    }

    func testShardOutsideFolderIsRejected() throws {
        let folder = try makeTemporaryFolder(self)
        let index = #"{"weight_map": {"w": "../elsewhere.safetensors"}}"#
        try Data(index.utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))
        XCTAssertThrowsError(try SafetensorsCheckpoint.open(directory: folder.path)) { error in
            guard case .badIndex = (error as? SafetensorsError)?.kind else { return XCTFail("\(error)") }
        }
    }

    func testFolderOfFilesWithoutIndex() throws {
        let folder = try makeTemporaryFolder(self)
        try SafetensorsWriter.write(["a": Tensor([1], shape: [1])], to: folder.appendingPathComponent("one.safetensors").path)
        try SafetensorsWriter.write(["b": Tensor([2], shape: [1])], to: folder.appendingPathComponent("two.safetensors").path)
        XCTAssertEqual(try SafetensorsCheckpoint.open(directory: folder.path).names, ["a", "b"])

        try SafetensorsWriter.write(["a": Tensor([3], shape: [1])], to: folder.appendingPathComponent("three.safetensors").path)
        XCTAssertThrowsError(try SafetensorsCheckpoint.open(directory: folder.path)) { error in
            guard case .duplicateAcrossFiles = (error as? SafetensorsError)?.kind else { return XCTFail("\(error)") }
            XCTAssertEqual((error as? SafetensorsError)?.tensor, "a")
        }
    }

    func testEmptyFolderIsAnError() throws {
        let folder = try makeTemporaryFolder(self)
        XCTAssertThrowsError(try SafetensorsCheckpoint.open(directory: folder.path))
    }
}
