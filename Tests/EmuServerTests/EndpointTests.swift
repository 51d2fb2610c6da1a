import Emu3
import EmuIO
import EmuServer
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// The endpoints against the tiny checkpoint, in process: each answer must equal what the library
/// gives for the same input, and the library's answers are themselves checked against transformers'
/// goldens (Tests/Fixtures/golden, made by scripts/reference/make_checkpoint.py).
final class EndpointTests: XCTestCase {
    func testHealthNamesTheModelAndItsVocabulary() async throws {
        let configuration = try XCTUnwrap(try ServerFixtures.loadedPipeline().transformer).configuration
        try await ServerFixtures.application().test(.router) { client in
            let response = try await client.execute(uri: "/health", method: .get)
            XCTAssertEqual(response.status, .ok)
            let health = try response.decoded(HealthResponse.self)
            XCTAssertEqual(health.status, "ok")
            XCTAssertEqual(health.model, "tiny-emu3")
            XCTAssertEqual(health.vocabularySize, configuration.vocabularySize)
            XCTAssertEqual(health.contextLength, configuration.maxPositions)
        }
    }

    /// The same log-probabilities as `Generator.score` (bit for bit: same code path), and within
    /// 1e-4 (relative) of transformers'.
    func testScoreMatchesLibraryAndReference() async throws {
        let golden = try ServerFixtures.json("score")
        let ids = try ServerFixtures.ints(golden["ids"])
        let library = try ServerFixtures.loadedPipeline().generator().score(ids, lastLogits: true)
        let reference = try ServerFixtures.floats(golden["logprobs"])
        try await ServerFixtures.application().test(.router) { client in
            let response = try await client.post("/v1/score", json: ["ids": ids, "logits": true])
            XCTAssertEqual(response.status, .ok, response.text)
            let scored = try response.decoded(ScoreResponse.self)
            XCTAssertEqual(scored.logprobs, library.logprobs)
            XCTAssertEqual(scored.logits, library.logits)
            XCTAssertLessThan(relativeError(scored.logprobs, reference), 1e-4)

            let withoutLogits = try await client.post("/v1/score", json: ["ids": ids]).decoded(ScoreResponse.self)
            XCTAssertNil(withoutLogits.logits)
            XCTAssertEqual(withoutLogits.logprobs, library.logprobs)
        }
    }

    /// Greedy chat from prompt ids: the library's `generate` ids, which are transformers' ids.
    func testGreedyChatMatchesLibraryGenerate() async throws {
        let pipeline = try ServerFixtures.loadedPipeline()
        let golden = try ServerFixtures.json("chat")
        let prompt = try ServerFixtures.ints(golden["prompt_ids"])
        let maxNewTokens = try XCTUnwrap(golden["max_new_tokens"] as? Int)
        let library = try pipeline.generator().generate(GenerationRequest(
            prompt: prompt, maxNewTokens: maxNewTokens, sampling: .greedy, stopTokens: [pipeline.specials.endOfSequence]))
        XCTAssertEqual(library.ids, try ServerFixtures.ints(golden["generated_ids"]))
        try await ServerFixtures.application().test(.router) { client in
            let response = try await client.post("/v1/chat", json: [
                "prompt_ids": prompt, "max_new_tokens": maxNewTokens, "greedy": true,
            ])
            XCTAssertEqual(response.status, .ok, response.text)
            let answer = try response.decoded(ChatResponse.self)
            XCTAssertEqual(answer.ids, library.ids)
            XCTAssertEqual(answer.stopReason, library.stopReason.rawValue)
            XCTAssertEqual(answer.promptTokens, prompt.count)
        }
    }

    /// A seeded sampled answer is reproducible through the API and equals the library's.
    func testSeededSamplingMatchesLibrary() async throws {
        let pipeline = try ServerFixtures.loadedPipeline()
        let prompt = try ServerFixtures.ints(try ServerFixtures.json("chat")["prompt_ids"])
        let sampling = SamplingParameters(temperature: 0.8, topK: 50, topP: 0.9, seed: 1234)
        let library = try pipeline.generator().generate(GenerationRequest(
            prompt: prompt, maxNewTokens: 10, sampling: sampling, stopTokens: [pipeline.specials.endOfSequence]))
        try await ServerFixtures.application().test(.router) { client in
            let body: [String: Any] = ["prompt_ids": prompt, "max_new_tokens": 10, "temperature": 0.8,
                                       "top_k": 50, "top_p": 0.9, "seed": 1234]
            let first = try await client.post("/v1/chat", json: body).decoded(ChatResponse.self)
            let second = try await client.post("/v1/chat", json: body).decoded(ChatResponse.self)
            XCTAssertEqual(first.ids, library.ids)
            XCTAssertEqual(second.ids, first.ids)
            XCTAssertEqual(first.seed, 1234)
        }
    }

    /// Streaming: one SSE event per token, carrying the same tokens as the non-streamed answer,
    /// then a `done` event holding that answer.
    func testStreamingYieldsTheSameTokens() async throws {
        let prompt = try ServerFixtures.ints(try ServerFixtures.json("chat")["prompt_ids"])
        try await ServerFixtures.application().test(.router) { client in
            let body: [String: Any] = ["prompt_ids": prompt, "max_new_tokens": 12, "greedy": true, "seed": 5]
            let plain = try await client.post("/v1/chat", json: body).decoded(ChatResponse.self)
            var streamedBody = body
            streamedBody["stream"] = true
            let response = try await client.post("/v1/chat", json: streamedBody)
            XCTAssertEqual(response.status, .ok)
            XCTAssertEqual(response.headers[.contentType], "text/event-stream")
            let events = parseEvents(response.text)
            let tokens = try events.filter { $0.name == nil }.map {
                try JSONDecoder().decode(ChatStreamToken.self, from: Data($0.data.utf8))
            }
            XCTAssertEqual(tokens.map(\.id), plain.ids)
            XCTAssertEqual(events.last?.name, "done")
            let final = try JSONDecoder().decode(ChatResponse.self, from: Data(try XCTUnwrap(events.last).data.utf8))
            XCTAssertEqual(final, plain)
        }
    }

    /// `/v1/vq/encode` of the reference chat image gives transformers' codes (Emu3Model.get_image_tokens);
    /// `/v1/vq/decode` of them gives a PNG of the image's size equal to the library's decoding.
    func testVisionTokenizerEndpointsMatchReference() async throws {
        let golden = try ServerFixtures.json("chat")
        let png = try Data(contentsOf: ServerFixtures.golden.appendingPathComponent("chat_image.png"))
        let expectedCodes = try XCTUnwrap(golden["codes"] as? [[Int]])
        let pipeline = try ServerFixtures.loadedPipeline()
        let imageSize = try ServerFixtures.ints(golden["image_size"])
        try await ServerFixtures.application().test(.router) { client in
            let encoded = try await client.post("/v1/vq/encode", json: ["image": png.base64EncodedString()])
            XCTAssertEqual(encoded.status, .ok, encoded.text)
            let document = try encoded.decoded(CodesDocument.self)
            XCTAssertEqual(document.codes, [expectedCodes])
            XCTAssertEqual(document.frames, 1)
            XCTAssertEqual(document.height, expectedCodes.count)
            XCTAssertEqual(document.width, expectedCodes[0].count)
            XCTAssertEqual([document.pixelHeight, document.pixelWidth], imageSize)

            let decoded = try await client.post("/v1/vq/decode", json: ["codes": [expectedCodes]])
            XCTAssertEqual(decoded.status, .ok, decoded.text)
            let answer = try decoded.decoded(DecodedImageResponse.self)
            let image = try ImageFile.decode([UInt8](try XCTUnwrap(Data(base64Encoded: answer.image))))
            XCTAssertEqual([image.height, image.width], imageSize)
            // The library's decoding, mapped back from [-1, 1] to bytes: within rounding.
            let grid = try XCTUnwrap(VisionCodes(nested: [expectedCodes]))
            let pixels = try XCTUnwrap(pipeline.visionTokenizer).decodeImage(grid).toArray()
            let plane = image.width * image.height
            for channel in 0..<3 {
                for i in stride(from: 0, to: plane, by: 7) {
                    let expected = max(0, min(255, (pixels[channel * plane + i] + 1) * 127.5))
                    XCTAssertEqual(Float(image.pixels[i * 3 + channel]), expected, accuracy: 0.51)
                }
            }
        }
    }

    /// Text-to-image with CFG through the API: transformers' greedy ids (needs the text tokenizer).
    func testGreedyImageGenerationMatchesReference() async throws {
        try XCTSkipIf(try ServerFixtures.loadedPipeline().tokenizer == nil, "the pipeline has no text tokenizer yet")
        let golden = try ServerFixtures.json("generate_t2i")
        let body = try JSONSerialization.data(withJSONObject: [
            "prompt": try XCTUnwrap(golden["prompt"] as? String),
            "negative_prompt": try XCTUnwrap(golden["negative_prompt"] as? String),
            "ratio": try XCTUnwrap(golden["ratio"] as? String), "area": try XCTUnwrap(golden["image_area"] as? Int),
            "cfg": try XCTUnwrap(golden["guidance_scale"] as? Double), "greedy": true,
        ])
        let expectedIDs = try ServerFixtures.ints(golden["generated_ids"])
        let grid = [try XCTUnwrap(golden["rows"] as? Int), try XCTUnwrap(golden["columns"] as? Int)]
        try await ServerFixtures.application().test(.router) { client in
            let response = try await client.post("/v1/images/generations", data: body)
            XCTAssertEqual(response.status, .ok, response.text)
            let answer = try response.decoded(ImageGenerationResponse.self)
            XCTAssertEqual(answer.ids, expectedIDs)
            XCTAssertEqual([answer.rows, answer.columns], grid)
            let image = try ImageFile.decode([UInt8](try XCTUnwrap(Data(base64Encoded: answer.image))))
            XCTAssertEqual(image.width, answer.columns * 4)
        }
    }

    /// Requests running at once are served one after another, each with its own right answer.
    func testConcurrentRequestsQueue() async throws {
        let golden = try ServerFixtures.json("score")
        let ids = try ServerFixtures.ints(golden["ids"])
        let expected = try ServerFixtures.loadedPipeline().generator().score(ids).logprobs
        try await ServerFixtures.application().test(.router) { client in
            try await withThrowingTaskGroup(of: [Float].self) { group in
                for length in [ids.count, ids.count - 5, ids.count - 10] {
                    group.addTask {
                        try await client.post("/v1/score", json: ["ids": Array(ids.prefix(length))])
                            .decoded(ScoreResponse.self).logprobs
                    }
                }
                for try await logprobs in group {
                    XCTAssertEqual(logprobs, Array(expected.prefix(logprobs.count)))
                }
            }
        }
    }
}

/// Server-Sent Events of a body: (event name or nil, data).
func parseEvents(_ text: String) -> [(name: String?, data: String)] {
    text.components(separatedBy: "\n\n").compactMap { block in
        var name: String?
        var data: [String] = []
        for line in block.split(separator: "\n", omittingEmptySubsequences: true) {
            if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
            if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
        }
        return data.isEmpty ? nil : (name, data.joined(separator: "\n"))
    }
}
