import EmuIO
import EmuServer
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// Bad requests get a 4xx status and `{"error": ...}` naming the problem; nothing crashes.
final class ErrorTests: XCTestCase {
    /// Each request, its status and a fragment its message must contain.
    func testBadInputsAreRejectedWithAMessage() async throws {
        let context = try XCTUnwrap(try ServerFixtures.loadedPipeline().transformer).configuration.maxPositions
        let vocabulary = try XCTUnwrap(try ServerFixtures.loadedPipeline().transformer).configuration.vocabularySize
        let cases: [(uri: String, body: [String: Any], status: HTTPResponse.Status, message: String)] = [
            ("/v1/score", ["ids": [1, 2, vocabulary]], .badRequest, "ids[2] = \(vocabulary) is outside the vocabulary"),
            ("/v1/score", ["ids": [5, -1]], .badRequest, "ids[1] = -1"),
            ("/v1/score", ["ids": []], .badRequest, "ids is empty"),
            ("/v1/score", ["ids": "1 2 3"], .badRequest, "field 'ids'"),
            ("/v1/score", ["logits": true], .badRequest, "missing field 'ids'"),
            ("/v1/score", ["ids": [Int](repeating: 1, count: context + 1)], .badRequest, "exceed the context"),
            ("/v1/chat", ["prompt_ids": [Int](repeating: 1, count: context)], .badRequest, "the context holds \(context)"),
            ("/v1/chat", ["prompt_ids": [1, 2], "max_new_tokens": context], .badRequest, "exceeds the context"),
            ("/v1/chat", ["prompt_ids": [1, 2], "max_new_tokens": 0], .badRequest, "max_new_tokens must be at least 1"),
            ("/v1/chat", ["prompt_ids": [1, 2], "temperature": -1], .badRequest, "temperature"),
            ("/v1/chat", ["prompt_ids": [1, 2], "top_p": 1.5], .badRequest, "top_p"),
            ("/v1/chat", ["prompt_ids": [1, 2], "top_k": 0], .badRequest, "top_k"),
            ("/v1/chat", ["prompt_ids": [1, 99_999]], .badRequest, "prompt_ids[1] = 99999"),
            ("/v1/chat", ["max_new_tokens": 3], .badRequest, "missing field 'prompt'"),
            ("/v1/vq/encode", ["image": "%%% not base64 %%%"], .badRequest, "image: not valid base64"),
            ("/v1/vq/encode", ["image": Data("hello, not an image".utf8).base64EncodedString()], .badRequest, "image:"),
            ("/v1/vq/encode", ["image": 42], .badRequest, "field 'image'"),
            ("/v1/vq/decode", ["codes": [[[1, 2], [3]]]], .badRequest, "rows of equal length"),
            ("/v1/vq/decode", ["codes": [[[1, 100_000]]]], .badRequest, "outside the codebook"),
            ("/v1/images/generations", ["prompt": 3], .badRequest, "field 'prompt'"),
            ("/v1/images/generations", ["prompt": "a cat", "best_of": 2], .badRequest, "needs a ShapesWorld model"),
        ]
        let requests = try cases.map { item in
            (item.uri, try JSONSerialization.data(withJSONObject: item.body), item.status, item.message)
        }
        try await ServerFixtures.application().test(.router) { client in
            for (uri, body, status, expected) in requests {
                let response = try await client.post(uri, data: body)
                let what = "\(uri) \(String(decoding: body.prefix(80), as: UTF8.self))"
                XCTAssertEqual(response.status, status, "\(what): \(response.text)")
                let message = try response.errorMessage()
                XCTAssertTrue(message.contains(expected), "\(what): '\(message)' lacks '\(expected)'")
            }
        }
    }

    func testMalformedJSONIsABadRequest() async throws {
        try await ServerFixtures.application().test(.router) { client in
            for body in ["{\"ids\": [1, 2", "", "[1, 2, 3]", "null"] {
                let response = try await client.post("/v1/score", raw: body)
                XCTAssertEqual(response.status, .badRequest, "body '\(body)': \(response.text)")
                XCTAssertFalse(try response.errorMessage().isEmpty)
            }
        }
    }

    /// An image whose size the VQ cannot take (not a multiple of the spatial factor) is named as such.
    func testImageOfTheWrongSizeIsABadRequest() async throws {
        let png = PNG.encode(RGBImage(width: 5, height: 7, fill: (10, 20, 30)))
        try await ServerFixtures.application().test(.router) { client in
            let response = try await client.post("/v1/vq/encode", json: ["image": Data(png).base64EncodedString()])
            XCTAssertEqual(response.status, .badRequest)
            XCTAssertTrue(try response.errorMessage().contains("5x7"), response.text)
        }
    }

    func testOversizedBodyIs413() async throws {
        try await ServerFixtures.application(maxBodySize: 1000).test(.router) { client in
            let response = try await client.post("/v1/score", json: ["ids": [Int](repeating: 7, count: 600)])
            XCTAssertEqual(response.status, .contentTooLarge)
            XCTAssertTrue(try response.errorMessage().contains("1000 bytes"), response.text)
            // Under the limit the same route still answers.
            let small = try await client.post("/v1/score", json: ["ids": [7, 8, 9]])
            XCTAssertEqual(small.status, .ok)
        }
    }

    /// A text prompt needs the checkpoint's text tokenizer: without one the answer says so (501).
    func testTextPromptWithoutTokenizerSaysWhatIsMissing() async throws {
        try XCTSkipIf(try ServerFixtures.loadedPipeline().tokenizer != nil, "the pipeline has a text tokenizer")
        try await ServerFixtures.application().test(.router) { client in
            let response = try await client.post("/v1/chat", json: ["prompt": "hello"])
            XCTAssertEqual(response.status, .notImplemented)
            XCTAssertTrue(try response.errorMessage().contains("tokenizer"), response.text)
        }
    }
}
