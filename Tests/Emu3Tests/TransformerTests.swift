import Emu3
import EmuIO
import EmuTensor
import XCTest

/// Logits parity with transformers' Emu3ForConditionalGeneration (eager, float32 compute on the
/// bf16 checkpoint) on the tiny fixture: tolerance 1e-4 relative to the row's largest logit.
final class TransformerTests: XCTestCase {
    static let tolerance: Float = 1e-4

    func testPrefillAndDecodeLogitsMatchTransformers() throws {
        let model = try XCTUnwrap(try Emu3Fixtures.pipeline().transformer)
        let meta = try Emu3Fixtures.json("transformer")
        let ids = try Emu3Fixtures.ints(meta["input_ids"])
        let prefillLength = try XCTUnwrap(meta["prefill_length"] as? Int)
        let golden = try SafetensorsFile(path: Emu3Fixtures.golden.appendingPathComponent("transformer.safetensors").path)
        let vocab = model.configuration.vocabularySize

        let expectedPrefill = try golden.tensor(named: "prefill_logits").toArray()
        let prefill = try model.forward(ids, cache: model.makeCache(), logitRows: Array(ids.indices))
        XCTAssertEqual(prefill.shape, [ids.count, vocab])
        let prefillError = relativeError(prefill.toArray(), expectedPrefill)
        XCTAssertLessThan(prefillError, Self.tolerance, "prefill")

        // Prefill the first part, then one token at a time through the KV cache (capacity 8 so it grows).
        let expectedDecode = try golden.tensor(named: "decode_logits")
        let cache = model.makeCache(capacity: 8)
        var rows = [try model.forward(Array(ids[..<prefillLength]), cache: cache).toArray()]
        for id in ids[prefillLength...] { rows.append(try model.forward([id], cache: cache).toArray()) }
        XCTAssertEqual(cache.count, ids.count)
        XCTAssertEqual(expectedDecode.shape, [rows.count, vocab])
        var decodeError: Float = 0
        for (k, row) in rows.enumerated() {
            decodeError = max(decodeError, relativeError(row, Array(expectedDecode.toArray()[(k * vocab)..<((k + 1) * vocab)])))
        }
        XCTAssertLessThan(decodeError, Self.tolerance, "decode")
        print("transformer parity: prefill \(prefillError), decode \(decodeError) (relative)")
    }

    func testCacheSnapshotIsIndependent() throws {
        let model = try XCTUnwrap(try Emu3Fixtures.pipeline().transformer)
        let ids = try Emu3Fixtures.ints(try Emu3Fixtures.json("transformer")["input_ids"])
        let cache = model.makeCache()
        _ = try model.forward(Array(ids[..<10]), cache: cache)
        let branch = cache.snapshot()
        let a = try model.forward([ids[10]], cache: cache).toArray()
        _ = try model.forward([ids[20]], cache: branch)  // diverge the copy
        XCTAssertEqual(cache.count, 11)
        let fresh = model.makeCache()
        let b = try model.forward(Array(ids[..<11]), cache: fresh).toArray()
        XCTAssertLessThan(relativeError(a, b), Self.tolerance)
    }

    func testOutOfVocabularyIdIsAnError() throws {
        let model = try XCTUnwrap(try Emu3Fixtures.pipeline().transformer)
        let vocab = model.configuration.vocabularySize
        XCTAssertThrowsError(try model.forward([1, vocab], cache: model.makeCache())) { error in
            XCTAssertEqual(error as? TransformerError, .tokenOutOfRange(id: vocab, offset: 1, vocabularySize: vocab))
        }
    }
}
