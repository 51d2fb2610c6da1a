import Emu3
import EmuServer
import Foundation
import Hummingbird
import HummingbirdTesting
import XCTest

/// The tiny checkpoint and the reference goldens, and helpers to talk to the API in process
/// (HummingbirdTesting's router framework: no sockets).
enum ServerFixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let tinyCheckpoint = root.appendingPathComponent("tiny-emu3")
    static let golden = root.appendingPathComponent("golden")

    /// The whole tiny checkpoint (transformer and vision tokenizer), loaded once.
    static let pipeline: Result<Emu3Pipeline, any Error> = Result { try Emu3Pipeline(directory: tinyCheckpoint) }

    static func loadedPipeline() throws -> Emu3Pipeline { try pipeline.get() }

    static func service() throws -> ModelService { ModelService(pipeline: try loadedPipeline()) }

    static func application(maxBodySize: Int = EmuHTTPServer.defaultMaxBodySize) throws -> some ApplicationProtocol {
        Application(router: EmuHTTPServer.router(service: try service(), maxBodySize: maxBodySize))
    }

    /// The golden JSON document `name`.json.
    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: golden.appendingPathComponent(name + ".json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func ints(_ value: Any?) throws -> [Int] { try XCTUnwrap(value as? [Int]) }
    static func floats(_ value: Any?) throws -> [Float] { try XCTUnwrap(value as? [Double]).map { Float($0) } }
}

extension TestClientProtocol {
    /// POSTs `body` (any JSON-serializable value, or raw bytes) to `uri`.
    func post(_ uri: String, json body: Any) async throws -> TestResponse {
        let data = try JSONSerialization.data(withJSONObject: body)
        return try await execute(uri: uri, method: .post, headers: [.contentType: "application/json"],
                                 body: ByteBuffer(bytes: data))
    }

    func post(_ uri: String, data: Data) async throws -> TestResponse {
        try await execute(uri: uri, method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(bytes: data))
    }

    func post(_ uri: String, raw body: String) async throws -> TestResponse {
        try await execute(uri: uri, method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
    }
}

extension TestResponse {
    /// The body decoded as `T` (fails the test when it does not decode).
    func decoded<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }

    var text: String { String(buffer: body) }

    /// The `error` message of an error answer.
    func errorMessage() throws -> String { try decoded(ErrorResponse.self).error }
}

/// Largest |a - b| over the largest |b| (1 at least): the relative error of a whole row.
func relativeError(_ actual: [Float], _ expected: [Float]) -> Float {
    precondition(actual.count == expected.count, "\(actual.count) vs \(expected.count) values")
    var worst: Float = 0, scale: Float = 1
    for (a, b) in zip(actual, expected) {
        worst = max(worst, abs(a - b))
        scale = max(scale, abs(b))
    }
    return worst / scale
}
