import Emu3
import XCTest

final class ProcessorTests: XCTestCase {
    /// Grid sizes equal transformers' `calculate_generate_size` (half-to-even rounding included)
    /// for 351 ratio/area/factor cases; sizes that round to an empty grid are errors here.
    func testGenerationGridMatchesTransformers() throws {
        let cases = try XCTUnwrap(try Emu3Fixtures.json("grid_sizes")["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 351)
        for item in cases {
            let ratio = try XCTUnwrap(item["ratio"] as? String)
            let (area, factor) = (try XCTUnwrap(item["area"] as? Int), try XCTUnwrap(item["spatial_factor"] as? Int))
            let (rows, columns) = (try XCTUnwrap(item["rows"] as? Int), try XCTUnwrap(item["columns"] as? Int))
            if rows == 0 || columns == 0 {
                XCTAssertThrowsError(try Processor.generationGrid(ratio: ratio, area: area, spatialFactor: factor))
            } else {
                let grid = try Processor.generationGrid(ratio: ratio, area: area, spatialFactor: factor)
                XCTAssertEqual([grid.rows, grid.columns], [rows, columns], "\(ratio) \(area) /\(factor)")
            }
        }
        XCTAssertThrowsError(try Processor.generationGrid(ratio: "16x9", area: 100, spatialFactor: 8))
        XCTAssertThrowsError(try Processor.generationGrid(ratio: "0:1", area: 100, spatialFactor: 8))
    }

    /// The golden text-to-image ids parse back into the golden code grid, and the grid lays out
    /// into the same ids (rows with EOL) followed by EOF, EOI, EOS.
    func testGeneratedIdsRoundTripThroughCodeGrid() throws {
        let pipeline = try Emu3Fixtures.pipeline([])
        let processor = try pipeline.processor(spatialFactor: 4)
        let golden = try Emu3Fixtures.json("generate_t2i")
        let ids = try Emu3Fixtures.ints(golden["generated_ids"])
        let codes = try processor.codes(from: ids, rows: 4, columns: 6)
        XCTAssertEqual(codes.nested, [try XCTUnwrap(golden["codes"] as? [[Int]])])
        let s = pipeline.specials
        XCTAssertEqual(try processor.gridTokens(codes) + [s.endOfFrame, s.endOfImage, s.endOfSequence], ids)
    }

    func testMalformedGridsAreErrors() throws {
        let processor = try Emu3Fixtures.pipeline([]).processor(spatialFactor: 4)
        let s = processor.specials, v = processor.visualTokens
        let row = [v[1], v[2], v[3], s.endOfLine]
        XCTAssertNoThrow(try processor.codes(from: row + row + [s.endOfFrame], rows: 2, columns: 3))
        // Short row, long row, missing row, stray text token.
        XCTAssertThrowsError(try processor.codes(from: [v[1], v[2], s.endOfLine], rows: 1, columns: 3))
        XCTAssertThrowsError(try processor.codes(from: [v[1], v[2], v[3], v[4], s.endOfLine], rows: 1, columns: 3))
        XCTAssertThrowsError(try processor.codes(from: row + [s.endOfFrame], rows: 2, columns: 3))
        XCTAssertThrowsError(try processor.codes(from: row + [42] + row, rows: 2, columns: 3)) { error in
            guard case .malformedGrid(let offset, _)? = error as? ProcessorError else { return XCTFail("\(error)") }
            XCTAssertEqual(offset, 4)
        }
        // Two frames joined by EOF.
        let video = try processor.codes(from: row + [s.endOfFrame] + row + [s.endOfFrame, s.endOfImage], rows: 1, columns: 3)
        XCTAssertEqual(video.frames, 2)
    }

    /// The grid constraint against the rule of transformers' Emu3 docs (`prefix_allowed_tokens_fn`),
    /// re-implemented here literally, for grids at least 3 codes wide (narrower ones differ on
    /// purpose, see ImageGridConstraint), up to EOS; after EOS only padding is allowed (the docs
    /// rule would also allow EOL there; generation stops at EOS either way).
    func testImageGridConstraintFollowsTheReferenceRule() throws {
        let pipeline = try Emu3Fixtures.pipeline([])
        let s = pipeline.specials
        for (rows, columns) in [(1, 3), (4, 6), (3, 3), (2, 7)] {
            let constraint = ImageGridConstraint(rows: rows, columns: columns, specials: s, visualTokens: pipeline.visualTokens)
            for generated in constraint.tokenCount..<(constraint.tokenCount + 2 * (columns + 1)) {
                XCTAssertEqual(constraint.allowedTokens(after: Array(repeating: 0, count: generated)), .only([s.padding]))
            }
            for generated in 0..<constraint.tokenCount {
                let offset = generated + 1
                let expected: [Int]
                if offset % (columns + 1) == 0 { expected = [s.endOfLine] }
                else if offset == (columns + 1) * rows + 1 { expected = [s.endOfFrame] }
                else if offset == (columns + 1) * rows + 2 { expected = [s.endOfImage] }
                else if offset == (columns + 1) * rows + 3 { expected = [s.endOfSequence] }
                else { expected = pipeline.visualTokens }
                XCTAssertEqual(constraint.allowedTokens(after: Array(repeating: 0, count: generated)), .only(expected),
                               "\(rows)x\(columns) offset \(offset)")
            }
        }
    }

    /// A video constraint's allowed-token sequence is exactly the layout the processor parses back.
    func testVideoConstraintProducesParsableFrames() throws {
        let pipeline = try Emu3Fixtures.pipeline([])
        let processor = try pipeline.processor(spatialFactor: 4)
        let constraint = ImageGridConstraint(rows: 2, columns: 3, frames: 3, specials: pipeline.specials,
                                             visualTokens: pipeline.visualTokens)
        var ids: [Int] = []
        for _ in 0..<constraint.tokenCount {
            guard case .only(let allowed) = constraint.allowedTokens(after: ids) else { return XCTFail("unconstrained") }
            ids.append(allowed[ids.count % allowed.count])
        }
        XCTAssertEqual(ids.last, pipeline.specials.endOfSequence)
        let codes = try processor.codes(from: ids, rows: 2, columns: 3)
        XCTAssertEqual(codes.frames, 3)
    }
}
