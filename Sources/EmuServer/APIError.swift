import Emu3
import EmuIO
import Foundation
import Hummingbird

/// An error answer: an HTTP status and a message that says what was wrong with the request.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String

    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public static func badRequest(_ message: String) -> APIError { APIError(.badRequest, message) }

    public var description: String { "\(status.code): \(message)" }

    /// The answer for any error thrown while serving a request: the library's input errors are the
    /// client's fault (400), a missing component of the checkpoint is the server's (501), anything
    /// else is an internal error (500) whose message is still passed on.
    public init(_ error: any Error) {
        switch error {
        case let error as APIError:
            self = error
        case let error as DecodingError:
            self = .badRequest("invalid JSON body: \(APIError.describe(error))")
        case let error as MediaError:
            self = .badRequest(error.description)
        case let error as GenerationError:
            self = .badRequest(error.description)
        case let error as ProcessorError:
            self = .badRequest(error.description)
        case let error as VisionTokenizerError:
            self = .badRequest(error.description)
        case let error as ChatTemplateError:
            self = .badRequest(error.description)
        case let error as PipelineError:
            if case .missingComponent = error {
                self = APIError(.notImplemented, error.description)
            } else {
                self = APIError(.internalServerError, error.description)
            }
        case let error as TransformerError:
            self = .badRequest(error.description)
        default:
            self = APIError(.internalServerError, String(describing: error))
        }
    }

    /// A decoding error as a sentence naming the field: "field 'max_new_tokens': expected Int".
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let names = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return names.isEmpty ? "the body" : "field '\(names.joined(separator: ".").replacingOccurrences(of: ".[", with: "["))'"
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(type), found null"
        case .keyNotFound(let key, let context):
            return "missing field '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'"
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?)?.localizedDescription ?? context.debugDescription
            return context.codingPath.isEmpty ? "not valid JSON (\(underlying))" : "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return String(describing: error)
        }
    }
}
