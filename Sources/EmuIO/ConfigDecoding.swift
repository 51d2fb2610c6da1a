import Foundation

/// A config file that could not be decoded; names the file and the JSON key path.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    /// Dotted key path, e.g. "text_config.hidden_size" (empty for the whole document).
    public let keyPath: String
    public let message: String

    public init(file: String, keyPath: String, message: String) {
        self.file = file
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        keyPath.isEmpty ? "\(file): \(message)" : "\(file): key \"\(keyPath)\": \(message)"
    }

    /// Translates Foundation's decoding errors into one that names the key.
    static func from(_ error: Error, file: String) -> ConfigError {
        func path(_ keys: [CodingKey]) -> String {
            keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case let error as ConfigError: return error
        case DecodingError.keyNotFound(let key, let context):
            return ConfigError(file: file, keyPath: path(context.codingPath + [key]), message: "required key is missing")
        case DecodingError.valueNotFound(let type, let context):
            return ConfigError(file: file, keyPath: path(context.codingPath), message: "expected \(type), found null")
        case DecodingError.typeMismatch(let type, let context):
            return ConfigError(file: file, keyPath: path(context.codingPath), message: "expected \(type)")
        case DecodingError.dataCorrupted(let context):
            return ConfigError(file: file, keyPath: path(context.codingPath), message: context.debugDescription)
        default:
            return ConfigError(file: file, keyPath: "", message: "\(error)")
        }
    }
}

/// Decodes a JSON config with errors that name `file` and the offending key.
func decodeConfig<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws(ConfigError) -> T {
    do {
        return try JSONDecoder().decode(T.self, from: data)
    } catch {
        throw ConfigError.from(error, file: file)
    }
}

func readConfigFile(_ path: String) throws(ConfigError) -> Data {
    do {
        return try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw ConfigError(file: path, keyPath: "", message: "cannot read file (\(error.localizedDescription))")
    }
}

/// A coding key from any string, for configs whose keys depend on their layout.
struct AnyKey: CodingKey {
    let stringValue: String
    let intValue: Int? = nil
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

extension KeyedDecodingContainer where Key == AnyKey {
    /// The value of `key`, or `fallback` when absent (HF's default for an optional field).
    func value<T: Decodable>(_ key: String, default fallback: @autoclosure () throws -> T) throws -> T {
        try decodeIfPresent(T.self, forKey: AnyKey(key)) ?? (try fallback())
    }

    /// The value of the first present key among `keys` (layout spellings), else `fallback`.
    func value<T: Decodable>(_ keys: [String], default fallback: @autoclosure () throws -> T) throws -> T {
        for key in keys {
            if let value = try decodeIfPresent(T.self, forKey: AnyKey(key)) { return value }
        }
        return try fallback()
    }

    /// A token id that may be written as an int, a list of ints (first is used), or null.
    func tokenID(_ key: String, default fallback: Int?) throws -> Int? {
        guard contains(AnyKey(key)) else { return fallback }
        if try decodeNil(forKey: AnyKey(key)) { return nil }
        if let single = try? decode(Int.self, forKey: AnyKey(key)) { return single }
        return try decode([Int].self, forKey: AnyKey(key)).first
    }
}
