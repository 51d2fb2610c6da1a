import Emu3
import EmuIO
import EmuServer
import Foundation
import Hummingbird
import HummingbirdTesting
import ShapesRecipe
import ShapesWorld
import XCTest

/// `emu serve` over the bundled ShapesWorld model: each answer equals what `ShapesModel` (the
/// library behind `emu chat`, `generate` and `vq`) gives for the same input, and what the model
/// cannot do is a 400 naming it.
final class BundledModelEndpointTests: XCTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Models/shapes-emu3")
    static let model: Result<ShapesModel, any Error> = Result { try ShapesModel(directory: folder) }

    func application() throws -> some ApplicationProtocol {
        Application(router: EmuHTTPServer.router(service: ModelService(shapes: try Self.model.get())))
    }

    static let scene = SceneRenderer.render(SceneGenerator.scene(seed: 3))
    static var scenePNG: String { Data(PNG.encode(scene)).base64EncodedString() }

    func testHealthNamesTheBundledModel() async throws {
        let configuration = try XCTUnwrap(try Self.model.get().pipeline.transformer).configuration
        try await application().test(.router) { client in
            let health = try await client.execute(uri: "/health", method: .get).decoded(HealthResponse.self)
            XCTAssertEqual(health.model, "shapes-emu3")
            XCTAssertEqual(health.vocabularySize, configuration.vocabularySize)
            XCTAssertEqual(health.contextLength, configuration.maxPositions)
        }
    }

    /// A greedy answer about a picture: the ids and words of `ShapesModel.answer`, streamed or not.
    func testChatAnswersAsTheLibraryDoes() async throws {
        let model = try Self.model.get()
        let question = "describe the image."
        let ids = try model.answerIDs(question, about: Self.scene)
        let text = try model.answer(question, about: Self.scene)
        XCTAssertFalse(text.isEmpty)
        try await application().test(.router) { client in
            let body: [String: Any] = ["prompt": question, "images": [Self.scenePNG], "greedy": true, "max_new_tokens": 32]
            let response = try await client.post("/v1/chat", json: body)
            XCTAssertEqual(response.status, .ok, response.text)
            let answer = try response.decoded(ChatResponse.self)
            XCTAssertEqual(answer.ids, ids)
            XCTAssertEqual(answer.text, text)

            var streamedBody = body
            streamedBody["stream"] = true
            let events = parseEvents(try await client.post("/v1/chat", json: streamedBody).text)
            let tokens = try events.filter { $0.name == nil }.map {
                try JSONDecoder().decode(ChatStreamToken.self, from: Data($0.data.utf8))
            }
            XCTAssertEqual(tokens.map(\.id), ids)
            XCTAssertEqual(tokens.compactMap(\.text).joined(), text)
        }
    }

    /// A seeded picture: the library's ids for the same prompt, with the model's own guidance and
    /// sampling (its generation_config.json) when the request names none; a 64x64 PNG.
    func testImageGenerationDrawsWhatTheLibraryDraws() async throws {
        let model = try Self.model.get()
        let prompt = "a large blue square"
        var sampling = model.imageDefaults.sampling
        sampling.seed = 11
        let ids = try model.generateImageIDs(prompt, guidance: model.imageDefaults.guidance, sampling: sampling)
        try await application().test(.router) { client in
            let response = try await client.post("/v1/images/generations", json: ["prompt": prompt, "seed": 11])
            XCTAssertEqual(response.status, .ok, response.text)
            let answer = try response.decoded(ImageGenerationResponse.self)
            XCTAssertEqual(answer.ids, ids)
            XCTAssertEqual([answer.rows, answer.columns], [8, 8])
            let image = try ImageFile.decode([UInt8](try XCTUnwrap(Data(base64Encoded: answer.image))))
            XCTAssertEqual(image, try model.image(fromIDs: ids))
        }
    }

    /// `best_of`: the picture `ShapesModel` keeps among as many draws, rated as `rerank` says
    /// (caption by default); the same seed's single draw when the ratings pick another candidate.
    func testBestOfKeepsTheLibrarysBestRatedPicture() async throws {
        let model = try Self.model.get()
        let prompt = "a red circle above a blue square"
        var sampling = model.imageDefaults.sampling
        sampling.seed = 5
        let guidance = model.imageDefaults.guidance
        let byCaption = try model.generateImageIDs(prompt, guidance: guidance, sampling: sampling,
                                                   reranking: ImageReranking(candidates: 4, score: .caption))
        let byLikelihood = try model.generateImageIDs(prompt, guidance: guidance, sampling: sampling,
                                                      reranking: ImageReranking(candidates: 4, score: .likelihood))
        try await application().test(.router) { client in
            for (body, expected) in [(["prompt": prompt, "seed": 5, "best_of": 4] as [String: Any], byCaption),
                                     (["prompt": prompt, "seed": 5, "best_of": 4, "rerank": "likelihood"], byLikelihood)] {
                let response = try await client.post("/v1/images/generations", json: body)
                XCTAssertEqual(response.status, .ok, response.text)
                XCTAssertEqual(try response.decoded(ImageGenerationResponse.self).ids, expected, "\(body)")
            }
        }
    }

    /// The codes of a picture are the codec's; decoding them gives the codec's picture.
    func testVisionTokenizerEndpointsUseTheModelsCodec() async throws {
        let model = try Self.model.get()
        let codes = try model.codec.encode(Self.scene)
        try await application().test(.router) { client in
            let encoded = try await client.post("/v1/vq/encode", json: ["image": Self.scenePNG])
            XCTAssertEqual(encoded.status, .ok, encoded.text)
            let document = try encoded.decoded(CodesDocument.self)
            XCTAssertEqual(document.codes.flatMap { $0.flatMap { $0 } }, codes)
            XCTAssertEqual([document.frames, document.height, document.width], [1, 8, 8])
            XCTAssertEqual([document.pixelHeight, document.pixelWidth], [64, 64])

            let decoded = try await client.post("/v1/vq/decode", json: ["codes": document.codes])
            XCTAssertEqual(decoded.status, .ok, decoded.text)
            let answer = try decoded.decoded(DecodedImageResponse.self)
            let image = try ImageFile.decode([UInt8](try XCTUnwrap(Data(base64Encoded: answer.image))))
            XCTAssertEqual(image, try model.codec.decode(codes, rows: 8, columns: 8))
        }
    }

    /// What the model cannot do is refused with a message naming the field and the limit.
    func testRequestsOutsideTheWorldAreBadRequests() async throws {
        let small = Data(PNG.encode(RGBImage(width: 32, height: 32))).base64EncodedString()
        let cases: [(String, [String: Any], String)] = [
            ("/v1/chat", ["prompt": "describe the dog.", "images": [Self.scenePNG]], "'dog'"),
            ("/v1/chat", ["prompt": "describe the image.", "images": [Self.scenePNG, Self.scenePNG]], "exactly one picture, got 2"),
            ("/v1/chat", ["prompt": "describe the image."], "exactly one picture, got 0"),
            ("/v1/chat", ["prompt": "describe the image.", "images": [small]], "32x32"),
            ("/v1/chat", ["prompt": "describe the image.", "images": [Self.scenePNG], "system": "be brief."], "system"),
            ("/v1/images/generations", ["prompt": "a red circle", "ratio": "16:9"], "16:9"),
            ("/v1/images/generations", ["prompt": "a red circle", "area": 10000], "4096 pixels"),
            ("/v1/images/generations", ["prompt": "a red circle", "negative_prompt": "a blurry circle"], "'blurry'"),
            ("/v1/images/generations", ["prompt": "a red circle", "best_of": 0], "best_of must be 1 to 16 pictures, not 0"),
            ("/v1/images/generations", ["prompt": "a red circle", "best_of": 100], "not 100"),
            ("/v1/images/generations", ["prompt": "a red circle", "best_of": 2, "rerank": "beauty"], "'beauty' is not a rating"),
            ("/v1/images/generations", ["prompt": "a red circle", "best_of": 2, "greedy": true], "greedy"),
            ("/v1/vq/encode", ["image": small], "32x32"),
            ("/v1/vq/decode", ["codes": [[[1, 2], [3, 4]]]], "8x8 codes, not 2x2"),
            ("/v1/vq/decode", ["codes": [Array(repeating: Array(repeating: 5000, count: 8), count: 8)]], "code 5000"),
        ]
        let requests = try cases.map { uri, body, expected in (uri, try JSONSerialization.data(withJSONObject: body), expected) }
        try await application().test(.router) { client in
            for (uri, body, expected) in requests {
                let response = try await client.post(uri, data: body)
                XCTAssertEqual(response.status, .badRequest, "\(uri) \(String(decoding: body, as: UTF8.self)): \(response.text)")
                let message = try response.errorMessage()
                XCTAssertTrue(message.contains(expected), "\(uri): '\(message)' should name \(expected)")
            }
        }
    }
}
