import Foundation
import XCTest
@testable import EmuTraining

final class SequencePackingTests: XCTestCase {
    func testPackingKeepsExamplesWholeAndMasksBoundariesAndPadding() throws {
        let packer = SequencePacker(length: 7, paddingID: 0)
        let a = TrainingExample(ids: [1, 2, 3], weights: [0, 1, 0.5])
        let b = TrainingExample(ids: [4, 5, 6, 7], weights: [0, 1, 1, 1])
        let c = TrainingExample(ids: [8, 9], weights: [0, 1])
        let rows = try packer.pack([a, b, c])
        XCTAssertEqual(rows.map(\.ids), [[1, 2, 3, 4, 5, 6, 7, 0], [8, 9, 0, 0, 0, 0, 0, 0]])
        XCTAssertEqual(rows[0].weights, [0, 1, 0.5, 0, 1, 1, 1, 0])
        let batch = packer.batches(rows, batchSize: 2)[0]
        XCTAssertEqual(batch.inputs[0], [1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(batch.targets[0], [2, 3, 4, 5, 6, 7, 0])
        XCTAssertEqual(batch.weights[0], [1, 0.5, 0, 1, 1, 1, 0])
        XCTAssertEqual(batch.supervisedTokenCount, 5 + 1)
    }

    /// Noise flags travel with their tokens: concatenated, false for examples without them and for
    /// padding, and aligned with the inputs (the last token is never an input).
    func testPackingKeepsNoiseFlagsAlignedWithTheirTokens() throws {
        let packer = SequencePacker(length: 7, paddingID: 0)
        let plain = TrainingExample(ids: [1, 2, 3], weights: [0, 1, 1])
        let noisy = TrainingExample(ids: [4, 5, 6], weights: [0, 1, 1], noisable: [false, true, true])
        let rows = try packer.pack([plain, noisy, plain])
        XCTAssertEqual(rows.map(\.ids), [[1, 2, 3, 4, 5, 6, 0, 0], [1, 2, 3, 0, 0, 0, 0, 0]])
        XCTAssertEqual(rows[0].noisable, [false, false, false, false, true, true, false, false])
        XCTAssertEqual(rows[1].noisable, [], "a row without noisable tokens carries no flags")
        let batch = packer.batches(rows, batchSize: 2)[0]
        XCTAssertEqual(batch.noisable, [[false, false, false, false, true, true, false], []])
        for (ids, flags) in zip(batch.inputs, batch.noisable) where !flags.isEmpty {
            XCTAssertEqual(zip(ids, flags).filter(\.1).map(\.0), [5, 6])
        }
    }

    func testTooLongExampleIsAnErrorNamingIt() {
        let packer = SequencePacker(length: 3, paddingID: 0)
        XCTAssertThrowsError(try packer.pack([TrainingExample(ids: [1, 2], weights: [0, 1]),
                                              TrainingExample(ids: [1, 2, 3, 4, 5], weights: [0, 1, 1, 1, 1])])) {
            XCTAssertTrue("\($0)".contains("training example 1 has 5 tokens"))
        }
    }

    func testShuffleIsAPermutationFixedBySeedAndEpoch() {
        let items = Array(0..<100)
        let s1 = items.deterministicallyShuffled(seed: 7, epoch: 0)
        XCTAssertEqual(s1, items.deterministicallyShuffled(seed: 7, epoch: 0))
        XCTAssertNotEqual(s1, items.deterministicallyShuffled(seed: 7, epoch: 1))
        XCTAssertNotEqual(s1, items)
        XCTAssertEqual(s1.sorted(), items)
    }

    func testAtomicReplaceKeepsOldFolderWhenBuildFails() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID())")
        let target = root.appendingPathComponent("ckpt")
        try AtomicDirectory.replace(at: target) { try Data("v1".utf8).write(to: $0.appendingPathComponent("w")) }
        struct Interrupted: Error {}
        XCTAssertThrowsError(try AtomicDirectory.replace(at: target) { dir in
            try Data("partial".utf8).write(to: dir.appendingPathComponent("w"))
            throw Interrupted()
        })
        XCTAssertEqual(try String(contentsOf: target.appendingPathComponent("w"), encoding: .utf8), "v1")
        // An interrupted swap (old moved aside, new not yet in place) is recovered.
        try FileManager.default.moveItem(at: target, to: AtomicDirectory.previousURL(target))
        try AtomicDirectory.recover(at: target)
        XCTAssertEqual(try String(contentsOf: target.appendingPathComponent("w"), encoding: .utf8), "v1")
        try AtomicDirectory.replace(at: target) { try Data("v2".utf8).write(to: $0.appendingPathComponent("w")) }
        XCTAssertEqual(try String(contentsOf: target.appendingPathComponent("w"), encoding: .utf8), "v2")
        try? FileManager.default.removeItem(at: root)
    }

    /// The held-out split (a shuffle at epoch -1) is a deterministic partition of the examples.
    func testHeldOutSplitIsADeterministicPartition() {
        let examples = (0..<40).map { TrainingExample(ids: [$0, $0 + 1], weights: [0, 1]) }
        let first = TokenShardDataset.split(examples, heldOutFraction: 0.1, seed: 3)
        let second = TokenShardDataset.split(examples, heldOutFraction: 0.1, seed: 3)
        XCTAssertEqual(first.heldOut.count, 4)
        XCTAssertEqual(first.train.count, 36)
        XCTAssertEqual(first.heldOut, second.heldOut)
        XCTAssertEqual(Set((first.train + first.heldOut).map { $0.ids[0] }), Set(0..<40))
        XCTAssertNotEqual(TokenShardDataset.split(examples, heldOutFraction: 0.1, seed: 4).heldOut, first.heldOut)
    }
}
