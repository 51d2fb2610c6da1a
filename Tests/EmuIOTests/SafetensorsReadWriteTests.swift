import EmuTensor
import Foundation
import XCTest
@testable import EmuIO

/// Reading files written by the Python `safetensors` library, and writing files it writes.
final class SafetensorsReadWriteTests: XCTestCase {
    func testReadsEveryDTypeWrittenByPython() throws {
        let file = try SafetensorsFile(url: Fixtures.io.appendingPathComponent("python_dtypes.safetensors"))
        let expected = try Fixtures.expectations("python_dtypes")
        XCTAssertEqual(Set(file.names), Set(expected.keys))
        XCTAssertEqual(file.metadata, ["format": "pt"])
        for (name, want) in expected {
            let tensor = try file.tensor(named: name)
            XCTAssertEqual(tensor.dtype, loadedDType(torchName: want.dtype), name)
            XCTAssertEqual(tensor.shape, want.shape, name)
            // Floats compare as Float: float64 values are loaded as float32, and JSON doubles may
            // be parsed to within an ulp of double, which rounds to the same Float.
            if tensor.dtype.isFloatingPoint {
                XCTAssertEqual(tensor.toArray(), want.values.map { Float($0) }, name)
            } else {
                XCTAssertEqual(exactValues(tensor), want.values, name)
            }
        }
    }

    func testTensorsViewTheMappedFileWithoutCopying() throws {
        let file = try SafetensorsFile(url: Fixtures.io.appendingPathComponent("python_writer.safetensors"))
        let weight = try file.tensor(named: "layer.10.weight")
        XCTAssertTrue(weight.storage.isReadOnly, "an aligned f32 tensor should be a view of the mapping")
        XCTAssertEqual(weight.storage.byteCount, 24)
    }

    func testWriterBytesEqualPythonLibrary() throws {
        let expected = try Fixtures.expectations("python_writer")
        var tensors: [String: Tensor] = [:]
        for (name, want) in expected {
            let dtype = try XCTUnwrap(loadedDType(torchName: want.dtype))
            tensors[name] = makeTensor(dtype, shape: want.shape, values: want.values)
        }
        let ours = try SafetensorsWriter.encode(tensors, metadata: ["format": "pt"])
        let python = try [UInt8](Data(contentsOf: Fixtures.io.appendingPathComponent("python_writer.safetensors")))
        XCTAssertEqual(ours.count, python.count)
        XCTAssertEqual(ours, python, "header: \(String(decoding: ours.prefix(200), as: UTF8.self))")
    }

    func testRoundTripInEveryDType() throws {
        let folder = try makeTemporaryFolder(self)
        var tensors: [String: Tensor] = [:]
        for (i, dtype) in DType.allCases.enumerated() {
            let values: [Double] = dtype == .bool ? [1, 0, 1, 1, 0, 0] : (0..<6).map { Double($0 * 3 - 7 + i) }
            let shaped = dtype == .uint8 ? values.map(abs) : values
            tensors["t.\(dtype)"] = makeTensor(dtype, shape: [2, 3], values: shaped)
        }
        tensors["scalar"] = Tensor(scalar: -2.25)
        tensors["empty"] = Tensor(zeros: [3, 0], dtype: .bfloat16)
        let path = folder.appendingPathComponent("round.safetensors").path
        try SafetensorsWriter.write(tensors, metadata: ["note": "round trip", "format": "pt"], to: path)

        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.metadata, ["note": "round trip", "format": "pt"])
        XCTAssertEqual(Set(file.names), Set(tensors.keys))
        for (name, original) in tensors {
            let read = try file.tensor(named: name)
            XCTAssertEqual(read.dtype, original.dtype, name)
            XCTAssertEqual(read.shape, original.shape, name)
            XCTAssertEqual(exactValues(read), exactValues(original), name)
        }
        // Data offsets of every tensor start 8-byte aligned in the file (header padded to 8).
        let headerLength = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))).prefix(8)
            .enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual(headerLength % 8, 0)
    }

    func testAtomicWriteReplacesTargetAndLeavesNoTemporaryFile() throws {
        let folder = try makeTemporaryFolder(self)
        let path = folder.appendingPathComponent("model.safetensors").path
        try SafetensorsWriter.write(["a": Tensor([1, 2], shape: [2])], to: path)
        let first = try SafetensorsFile(path: path)
        let firstTensor = try first.tensor(named: "a")
        try SafetensorsWriter.write(["b": Tensor([3, 4, 5], shape: [3])], to: path)
        XCTAssertEqual(try SafetensorsFile(path: path).names, ["b"])
        // The old mapping stays valid after the rename (the old inode lives while mapped).
        XCTAssertEqual(firstTensor.toArray(), [1, 2])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["model.safetensors"])
    }

    func testWriteIntoMissingFolderFailsNamingThePath() throws {
        let path = "/nonexistent-\(UUID().uuidString)/x.safetensors"
        XCTAssertThrowsError(try SafetensorsWriter.write(["a": Tensor([1], shape: [1])], to: path)) { error in
            let e = error as? SafetensorsError
            XCTAssertEqual(e?.file, path)
            guard case .writeFailed = e?.kind else { return XCTFail("\(error)") }
        }
    }

    func testMetadataNameIsRejectedAsTensorName() {
        XCTAssertThrowsError(try SafetensorsWriter.encode(["__metadata__": Tensor([1], shape: [1])])) { error in
            guard case .invalidTensorName = (error as? SafetensorsError)?.kind else { return XCTFail("\(error)") }
        }
    }

    func testMappedFileOfLargeSparseFileUsesNoMemory() throws {
        // A 4 GiB sparse file maps instantly; only touched pages become resident.
        let folder = try makeTemporaryFolder(self)
        let path = folder.appendingPathComponent("sparse.bin").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 4 << 30)
        try handle.close()
        let mapped = try MappedFile(path: path)
        XCTAssertEqual(mapped.count, 4 << 30)
        let storage = mapped.storage(offset: (4 << 30) - 8, byteCount: 8)
        XCTAssertEqual(storage.bytes.load(as: UInt64.self), 0)
    }

    func testMappedFileErrorsNameThePath() {
        XCTAssertThrowsError(try MappedFile(path: "/nonexistent/file")) { error in
            XCTAssertEqual((error as? MappedFileError)?.path, "/nonexistent/file")
        }
        XCTAssertThrowsError(try MappedFile(path: "/tmp")) { error in
            XCTAssertEqual((error as? MappedFileError)?.reason, "not a regular file")
        }
    }
}
