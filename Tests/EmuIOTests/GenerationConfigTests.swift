import Foundation
import XCTest
@testable import EmuIO

/// The sampling entries of `generation_config.json`: read when present, defaults when absent, and a
/// bad entry named rather than sampled with.
final class GenerationConfigTests: XCTestCase {
    private func folder(with json: String?) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("generation-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        if let json { try Data(json.utf8).write(to: url.appendingPathComponent(GenerationConfig.fileName)) }
        return url
    }

    func testEntriesAreReadAndOthersIgnored() throws {
        // A transformers-style file: token ids and flags it does not read sit beside the entries it does.
        let config = try GenerationConfig.load(directory: folder(with: """
            {"bos_token_id": 1, "do_sample": true, "max_new_tokens": 40960, "guidance_scale": 1.5,
             "temperature": 0.7, "top_k": 2048, "top_p": 0.9, "transformers_version": "4.48.0"}
            """))
        XCTAssertEqual(config, GenerationConfig(guidanceScale: 1.5, temperature: 0.7, topK: 2048, topP: 0.9))
        XCTAssertEqual(config.topK(default: 32), 2048)
        XCTAssertEqual(config.topP(default: nil), 0.9)
    }

    func testAbsentFileAndEntriesFallBack() throws {
        let none = try GenerationConfig.load(directory: folder(with: nil))
        XCTAssertEqual(none, GenerationConfig())
        XCTAssertEqual(none.topK(default: 32), 32)
        XCTAssertNil(none.topP(default: nil))
        let idsOnly = try GenerationConfig.load(directory: folder(with: #"{"bos_token_id": 1, "eos_token_id": 2}"#))
        XCTAssertEqual(idsOnly, GenerationConfig())
    }

    /// transformers' "off" values: top_k 0 and top_p 1 keep every token, whatever the caller's default.
    func testOffValuesKeepEveryToken() throws {
        let config = try GenerationConfig.load(directory: folder(with: #"{"top_k": 0, "top_p": 1.0}"#))
        XCTAssertNil(config.topK(default: 32))
        XCTAssertNil(config.topP(default: 0.5))
    }

    func testBadEntriesAreNamed() throws {
        let cases: [(String, String, String)] = [
            (#"{"temperature": "hot"}"#, "temperature", "expected"),
            (#"{"temperature": 0}"#, "temperature", "positive"),
            (#"{"guidance_scale": -1}"#, "guidance_scale", "positive"),
            (#"{"top_k": -5}"#, "top_k", "0 (none) or more"),
            (#"{"top_p": 1.5}"#, "top_p", "(0, 1]"),
            (#"{"top_k": 2.5}"#, "top_k", "whole number"),
        ]
        for (json, key, words) in cases {
            let url = try folder(with: json)
            XCTAssertThrowsError(try GenerationConfig.load(directory: url), json) { error in
                let error = error as? ConfigError
                XCTAssertEqual(error?.keyPath, key, json)
                XCTAssertTrue(error?.message.contains(words) == true, "\(json): \(String(describing: error))")
                XCTAssertTrue(error?.file.hasPrefix(url.path) == true, "the message names the file: \(String(describing: error))")
            }
        }
        XCTAssertThrowsError(try GenerationConfig.load(directory: folder(with: "{not json"))) { error in
            XCTAssertTrue((error as? ConfigError)?.file.hasSuffix(GenerationConfig.fileName) == true, "\(error)")
        }
    }
}
