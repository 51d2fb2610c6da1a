import Foundation
import Hummingbird

/// The HTTP API over one `ModelService`: routes, JSON bodies, error answers, streaming.
/// Handlers only decode, call the service and encode; see docs/server.md for the endpoints.
public enum EmuHTTPServer {
    /// Request bodies larger than this are refused with 413 (base64 images make bodies large).
    public static let defaultMaxBodySize = 32 << 20

    /// The router with every endpoint.
    public static func router(service: ModelService, maxBodySize: Int = defaultMaxBodySize) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/health") { _, _ in
            jsonResponse(await service.health())
        }
        router.post("/v1/score") { request, _ in
            await answer { try await service.score(try await decode(ScoreRequest.self, from: request, limit: maxBodySize)) }
        }
        router.post("/v1/chat") { request, _ in
            let body: ChatRequest
            let prepared: ModelService.PreparedChat
            do {
                body = try await decode(ChatRequest.self, from: request, limit: maxBodySize)
                prepared = try await service.prepareChat(body)
            } catch {
                return errorResponse(APIError(error))
            }
            guard body.stream == true else {
                return await answer { try await service.runChat(prepared) }
            }
            return ServerSentEvents.chat(prepared, service: service)
        }
        router.post("/v1/images/generations") { request, _ in
            await answer {
                try await service.generateImage(try await decode(ImageGenerationRequest.self, from: request, limit: maxBodySize))
            }
        }
        router.post("/v1/vq/encode") { request, _ in
            await answer { try await service.encode(try await decode(EncodeRequest.self, from: request, limit: maxBodySize)) }
        }
        router.post("/v1/vq/decode") { request, _ in
            await answer { try await service.decode(try await decode(CodesDocument.self, from: request, limit: maxBodySize)) }
        }
        return router
    }

    /// An application serving the API on `host:port` (loopback unless told otherwise).
    public static func application(service: ModelService, host: String = "127.0.0.1", port: Int = 8080,
                                   maxBodySize: Int = defaultMaxBodySize) -> some ApplicationProtocol {
        Application(router: router(service: service, maxBodySize: maxBodySize),
                    configuration: .init(address: .hostname(host, port: port), serverName: "emu"))
    }

    // MARK: Bodies

    /// The request body as `T`: 413 beyond `limit` bytes, 400 naming the field when it does not decode.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw tooLarge(limit)
        }
        var body = ByteBuffer()
        for try await part in request.body {
            guard body.readableBytes + part.readableBytes <= limit else { throw tooLarge(limit) }
            var part = part
            body.writeBuffer(&part)
        }
        guard body.readableBytes > 0 else { throw APIError.badRequest("the request has no JSON body") }
        return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }

    private static func tooLarge(_ limit: Int) -> APIError {
        APIError(.contentTooLarge, "the request body exceeds the limit of \(limit) bytes")
    }

    /// Runs `body` and answers with its result as JSON, or with the error it threw.
    static func answer<T: Encodable>(_ body: () async throws -> T) async -> Response {
        do {
            return jsonResponse(try await body())
        } catch {
            return errorResponse(APIError(error))
        }
    }

    static func errorResponse(_ error: APIError) -> Response {
        jsonResponse(ErrorResponse(error: error.message), status: error.status)
    }

    static func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        guard let data = try? encodeJSON(value) else {
            return Response(status: .internalServerError, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: #"{"error":"the answer could not be encoded as JSON"}"#)))
        }
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Compact JSON; non-finite floats (never expected) become strings rather than failing the answer.
    static func encodeJSON<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try encoder.encode(value)
    }
}
