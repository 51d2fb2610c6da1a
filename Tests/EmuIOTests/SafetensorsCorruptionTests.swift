import EmuTensor
import Foundation
import XCTest
@testable import EmuIO

/// Every kind of broken file gets a typed error naming the file (and tensor), never a trap.
final class SafetensorsCorruptionTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws { folder = try makeTemporaryFolder(self) }

    /// Opens a crafted file and loads all its tensors; returns the error raised.
    private func failure(header: String, data: [UInt8] = [], declaredLength: UInt64? = nil,
                         file: StaticString = #filePath, line: UInt = #line) throws -> (SafetensorsError, String) {
        let path = try craftFile(in: folder, header: header, data: data, declaredLength: declaredLength)
        do {
            let opened = try SafetensorsFile(path: path)
            _ = try opened.allTensors()
        } catch {
            XCTAssertTrue(error.description.contains(path), "message should name the file: \(error)", file: file, line: line)
            return (error, path)
        }
        XCTFail("expected an error", file: file, line: line)
        throw XCTSkip("no error")
    }

    func testFileTooShort() throws {
        let url = folder.appendingPathComponent("short.safetensors")
        try Data([1, 2, 3]).write(to: url)
        XCTAssertThrowsError(try SafetensorsFile(path: url.path)) { error in
            XCTAssertEqual((error as? SafetensorsError)?.kind, .fileTooShort(size: 3))
        }
    }

    func testHeaderLengthBeyondFile() throws {
        let (error, _) = try failure(header: "{}", declaredLength: 1 << 40)
        XCTAssertEqual(error.kind, .headerLengthBeyondFile(headerLength: 1 << 40, fileSize: 10))
        XCTAssertTrue(error.description.contains("header length 1099511627776"))
    }

    func testHeaderNotJSON() throws {
        let (error, _) = try failure(header: "{\"a\": nope}")
        guard case .headerNotJSON = error.kind else { return XCTFail("\(error)") }
        let (notObject, _) = try failure(header: "[1, 2]")
        XCTAssertEqual(notObject.kind, .headerNotObject)
    }

    func testUnknownDTypeNamesTheDTypeAndTensor() throws {
        let (error, _) = try failure(header: #"{"w":{"dtype":"F7","shape":[1],"data_offsets":[0,1]}}"#, data: [0])
        XCTAssertEqual(error.kind, .unknownDType("F7"))
        XCTAssertEqual(error.tensor, "w")
        XCTAssertTrue(error.description.contains("\"F7\"") && error.description.contains("tensor \"w\""), error.description)
    }

    func testUnsupportedDTypeOpensButRefusesThatTensor() throws {
        let path = try craftFile(in: folder, header: #"{"f8":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}"#, data: [1, 2])
        let file = try SafetensorsFile(path: path)
        XCTAssertThrowsError(try file.tensor(named: "f8")) { error in
            XCTAssertEqual((error as? SafetensorsError)?.kind, .unsupportedDType("F8_E4M3"))
        }
    }

    func testShapeAndOffsetsDisagree() throws {
        let (error, _) = try failure(header: #"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}"#,
                                     data: [UInt8](repeating: 0, count: 20))
        XCTAssertEqual(error.kind, .sizeMismatch(shape: [2, 3], dtype: "F32", expectedBytes: 24, actualBytes: 20))
        XCTAssertEqual(error.tensor, "w")
    }

    func testOffsetsBeyondData() throws {
        let (error, _) = try failure(header: #"{"w":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}"#, data: [1, 2, 3])
        XCTAssertEqual(error.kind, .offsetsBeyondData(begin: 0, end: 8, dataSize: 3))
        XCTAssertEqual(error.tensor, "w")
    }

    func testReversedOffsets() throws {
        let (error, _) = try failure(header: #"{"w":{"dtype":"U8","shape":[0],"data_offsets":[2,1]}}"#, data: [1, 2])
        guard case .malformedEntry = error.kind else { return XCTFail("\(error)") }
    }

    func testOverlappingSpans() throws {
        let header = #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#
        let (error, _) = try failure(header: header, data: [UInt8](repeating: 0, count: 6))
        XCTAssertEqual(error.kind, .overlappingSpans(other: "a"))
        XCTAssertEqual(error.tensor, "b")
    }

    func testGapBetweenSpans() throws {
        let header = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}"#
        let (error, _) = try failure(header: header, data: [UInt8](repeating: 0, count: 6))
        XCTAssertEqual(error.kind, .gapBeforeTensor(expectedBegin: 2, begin: 4))
        XCTAssertEqual(error.tensor, "b")
    }

    func testTrailingBytesNotCovered() throws {
        let (error, _) = try failure(header: #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#, data: [0, 0, 0])
        XCTAssertEqual(error.kind, .dataNotCovered(covered: 2, dataSize: 3))
    }

    func testDuplicateName() throws {
        let header = #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#
        let (error, _) = try failure(header: header, data: [0, 0])
        XCTAssertEqual(error.kind, .duplicateName)
        XCTAssertEqual(error.tensor, "a")
    }

    func testMetadataMustHoldStrings() throws {
        let (error, _) = try failure(header: #"{"__metadata__":{"step":3}}"#)
        guard case .badMetadata = error.kind else { return XCTFail("\(error)") }
    }

    func testMalformedEntries() throws {
        for header in [#"{"w":{"shape":[1],"data_offsets":[0,1]}}"#,
                       #"{"w":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}"#,
                       #"{"w":{"dtype":"U8","shape":[1],"data_offsets":[0]}}"#,
                       #"{"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}"#,
                       #"{"w":3}"#] {
            let (error, _) = try failure(header: header, data: [0])
            guard case .malformedEntry = error.kind else { return XCTFail("\(header): \(error)") }
            XCTAssertEqual(error.tensor, "w")
        }
    }

    func testHugeShapeOverflowIsAnError() throws {
        let header = #"{"w":{"dtype":"F64","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#
        let (error, _) = try failure(header: header, data: [UInt8](repeating: 0, count: 8))
        guard case .valueOutOfRange = error.kind else { return XCTFail("\(error)") }
    }

    func testDeepNestingIsAnError() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        let (error, _) = try failure(header: "{\"__metadata__\":\(deep)}")
        guard case .headerNotJSON = error.kind else { return XCTFail("\(error)") }
    }

    func testMissingTensorNamesIt() throws {
        let file = try SafetensorsFile(url: Fixtures.io.appendingPathComponent("python_writer.safetensors"))
        XCTAssertThrowsError(try file.tensor(named: "nope")) { error in
            XCTAssertEqual((error as? SafetensorsError)?.kind, .tensorNotFound)
            XCTAssertTrue("\(error)".contains("\"nope\""))
        }
    }

    /// Random truncations and byte flips of a valid file: each must give an error or a valid
    /// result whose tensors all lie inside the file, never a trap.
    func testFuzzedFilesNeverTrap() throws {
        let original = try [UInt8](Data(contentsOf: Fixtures.io.appendingPathComponent("python_dtypes.safetensors")))
        var rng = SeededGenerator(state: 20_240_925)
        var opened = 0, rejected = 0
        let path = folder.appendingPathComponent("fuzz.safetensors")
        for round in 0..<400 {
            var bytes = original
            switch round % 3 {
            case 0:
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &rng)))
            case 1:
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            default:
                // Flips inside the header's numbers and brackets hit the validation paths harder.
                let headerEnd = min(bytes.count, 8 + Int(bytes[0]) + Int(bytes[1]) << 8)
                let i = Int.random(in: 8..<headerEnd, using: &rng)
                bytes[i] = Array("0123456789[]{},:\"-".utf8).randomElement(using: &rng)!
            }
            try Data(bytes).write(to: path)
            do {
                let file = try SafetensorsFile(path: path.path)
                for name in file.names {
                    do {
                        let t = try file.tensor(named: name)
                        _ = exactValues(t)  // touch every element
                    } catch {
                        XCTAssertFalse(error.description.isEmpty)
                    }
                }
                opened += 1
            } catch {
                XCTAssertTrue(error.description.contains(path.path), "\(error)")
                rejected += 1
            }
        }
        XCTAssertGreaterThan(rejected, 100)
        XCTAssertGreaterThan(opened, 10)  // flips in the data section still give valid files
    }
}
