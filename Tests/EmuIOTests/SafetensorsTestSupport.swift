import EmuTensor
import Foundation
import XCTest
@testable import EmuIO

enum Fixtures {
    static let io = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures").appendingPathComponent("io")

    /// name -> (dtype, shape, values) as written by scripts/reference/make_io_fixtures.py.
    static func expectations(_ stem: String) throws -> [String: (dtype: String, shape: [Int], values: [Double])] {
        let data = try Data(contentsOf: io.appendingPathComponent("\(stem).json"))
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
        var result: [String: (dtype: String, shape: [Int], values: [Double])] = [:]
        for (name, entry) in root {
            let values = try XCTUnwrap(entry["values"] as? [NSNumber]).map(\.doubleValue)
            result[name] = (try XCTUnwrap(entry["dtype"] as? String), try XCTUnwrap(entry["shape"] as? [Int]), values)
        }
        return result
    }
}

/// A fresh, empty temporary folder removed at the end of the test.
func makeTemporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("emuio-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// A tensor of `dtype` holding `values` exactly (values must be representable).
func makeTensor(_ dtype: DType, shape: [Int], values: [Double]) -> Tensor {
    let t = Tensor(zeros: shape, dtype: dtype)
    let p = t.rawPointer
    for (i, v) in values.enumerated() {
        switch dtype {
        case .float32: p.storeBytes(of: Float(v), toByteOffset: 4 * i, as: Float.self)
        case .float16: p.storeBytes(of: floatToHalf(Float(v)), toByteOffset: 2 * i, as: UInt16.self)
        case .bfloat16: p.storeBytes(of: floatToBFloat16(Float(v)), toByteOffset: 2 * i, as: UInt16.self)
        case .int8: p.storeBytes(of: Int8(v), toByteOffset: i, as: Int8.self)
        case .uint8, .bool: p.storeBytes(of: UInt8(v), toByteOffset: i, as: UInt8.self)
        case .int32: p.storeBytes(of: Int32(v), toByteOffset: 4 * i, as: Int32.self)
        case .int64: p.storeBytes(of: Int64(v), toByteOffset: 8 * i, as: Int64.self)
        }
    }
    return t
}

/// The elements as exact doubles, whatever the dtype.
func exactValues(_ t: Tensor) -> [Double] {
    switch t.dtype {
    case .int64, .int32, .int8, .uint8, .bool: return t.toIntArray().map(Double.init)
    default: return t.toArray().map(Double.init)
    }
}

/// The DType a fixture's torch dtype name is loaded as.
func loadedDType(torchName: String) -> DType? {
    switch torchName {
    case "float32", "float64": return .float32
    case "float16": return .float16
    case "bfloat16": return .bfloat16
    case "int8": return .int8
    case "uint8": return .uint8
    case "bool": return .bool
    case "int32", "int16", "uint16": return .int32
    case "int64", "uint32", "uint64": return .int64
    default: return nil
    }
}

/// A safetensors file from a hand-written header and data section; `declaredLength` overrides
/// the header length prefix.
func craftFile(in folder: URL, header: String, data: [UInt8] = [], declaredLength: UInt64? = nil,
               name: String = "crafted.safetensors") throws -> String {
    let json = Array(header.utf8)
    var bytes = withUnsafeBytes(of: (declaredLength ?? UInt64(json.count)).littleEndian) { Array($0) }
    bytes += json + data
    let url = folder.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}

/// SplitMix64: a seeded generator so the fuzz test is reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
