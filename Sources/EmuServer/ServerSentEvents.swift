import Foundation
import Hummingbird

/// Streaming answers as Server-Sent Events (`text/event-stream`): one `data:` event per token
/// (`{"id": ..., "text": ...}`), then an `event: done` event with the whole answer (the document of
/// a non-streamed request), or an `event: error` event with `{"error": ...}`.
enum ServerSentEvents {
    static func chat(_ prepared: ModelService.PreparedChat, service: ModelService) -> Response {
        let (events, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let stop = StopSignal()
        // The client went away: let the generator stop at its next token.
        continuation.onTermination = { _ in stop.raise() }
        Task {
            do {
                let answer = try await service.runChat(prepared) { token in
                    continuation.yield(event(data: token))
                    return !stop.isRaised
                }
                continuation.yield(event(name: "done", data: answer))
            } catch {
                continuation.yield(event(name: "error", data: ErrorResponse(error: APIError(error).message)))
            }
            continuation.finish()
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                        body: ResponseBody(asyncSequence: events))
    }

    /// One event: an optional `event:` line, a `data:` line of compact JSON, a blank line.
    static func event<T: Encodable>(name: String? = nil, data: T) -> ByteBuffer {
        let json = (try? EmuHTTPServer.encodeJSON(data)).map { String(decoding: $0, as: UTF8.self) }
            ?? #"{"error":"the event could not be encoded as JSON"}"#
        var text = ""
        if let name { text += "event: \(name)\n" }
        text += "data: \(json)\n\n"
        return ByteBuffer(string: text)
    }
}

/// A flag raised once from any thread (the stream's termination) and read by the generating task.
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false

    func raise() { lock.withLock { raised = true } }
    var isRaised: Bool { lock.withLock { raised } }
}
