import Foundation
import XCTest
@testable import EmuIO

final class ImageFileTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("emuio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// The format comes from the bytes: a JPEG named .png still reads as the JPEG it is.
    func testReadSniffsFormatNotExtension() throws {
        let jpeg = try MediaFixture.all().first { $0.file == "jpeg_37x23_q95_444_base.jpg" }!
        let misnamed = folder.appendingPathComponent("really_a_jpeg.png")
        try Data(try jpeg.bytes).write(to: misnamed)
        XCTAssertEqual(try ImageFile.read(misnamed), try JPEG.decode(try jpeg.bytes))
        XCTAssertEqual(ImageFormat(sniffing: try jpeg.bytes), .jpeg)
    }

    func testErrorsNameTheFileAndTheProblem() throws {
        let text = folder.appendingPathComponent("notes.png")
        try Data("hello, not an image".utf8).write(to: text)
        XCTAssertThrowsError(try ImageFile.read(text)) { error in
            let e = error as? MediaError
            XCTAssertEqual(e?.reason, .notAnImage)
            XCTAssertEqual(e?.file, text.path)
            XCTAssertTrue("\(error)".contains("notes.png"))
        }
        let missing = folder.appendingPathComponent("missing.png")
        XCTAssertThrowsError(try ImageFile.read(missing)) { XCTAssertEqual(($0 as? MediaError)?.reason, .io) }
        let png = try MediaFixture.all().first { $0.file == "png_rgb8.png" }!.bytes
        let cut = folder.appendingPathComponent("cut.png")
        try Data(png[0..<(png.count - 30)]).write(to: cut)
        XCTAssertThrowsError(try ImageFile.read(cut)) { error in
            XCTAssertEqual((error as? MediaError)?.reason, .truncated)
            XCTAssertEqual((error as? MediaError)?.file, cut.path)
        }
    }

    func testWritePNGRoundTripsAndLeavesNoTemporaryFiles() throws {
        var image = RGBImage(width: 9, height: 7)
        for y in 0..<7 { for x in 0..<9 { image[x, y] = (UInt8(x * 20), UInt8(y * 30), 77) } }
        let url = folder.appendingPathComponent("out.png")
        try ImageFile.writePNG(image, to: url)
        try ImageFile.writePNG(image, to: url)  // overwriting works too
        XCTAssertEqual(try ImageFile.read(url), image)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["out.png"])
        XCTAssertThrowsError(try ImageFile.writePNG(image, to: folder.appendingPathComponent("no/such/dir/x.png"))) {
            XCTAssertEqual(($0 as? MediaError)?.reason, .io)
        }
    }

    func testVideoFolderInNaturalOrderAndGIFRoundTrip() throws {
        let frames = (0..<12).map { t in RGBImage(width: 6, height: 4, fill: (UInt8(t * 20), 10, 200)) }
        let frameFolder = folder.appendingPathComponent("frames")
        try FileManager.default.createDirectory(at: frameFolder, withIntermediateDirectories: true)
        // Unpadded numbers: natural order must put f2 before f10.
        for (i, f) in frames.enumerated() { try ImageFile.writePNG(f, to: frameFolder.appendingPathComponent("f\(i).png")) }
        try Data("ignore me".utf8).write(to: frameFolder.appendingPathComponent("readme.txt"))
        XCTAssertEqual(try VideoFile.readFrames(frameFolder), frames)

        let gif = folder.appendingPathComponent("clip.gif")
        try VideoFile.writeGIF(frames, delayCentiseconds: 4, to: gif)
        XCTAssertEqual(try VideoFile.readFrames(gif), frames)

        let written = try VideoFile.writePNGFrames(frames, to: folder.appendingPathComponent("out"))
        XCTAssertEqual(written.count, 12)
        XCTAssertEqual(try VideoFile.readFrames(folder.appendingPathComponent("out")), frames)

        try ImageFile.writePNG(RGBImage(width: 5, height: 4), to: frameFolder.appendingPathComponent("f99.png"))
        XCTAssertThrowsError(try VideoFile.readFrames(frameFolder)) { error in
            XCTAssertEqual((error as? MediaError)?.reason, .inconsistentFrames)
            XCTAssertTrue((error as? MediaError)?.file?.hasSuffix("f99.png") ?? false)
        }
        XCTAssertTrue(VideoFile.naturallyOrdered("frame2.png", "frame10.png"))
        XCTAssertFalse(VideoFile.naturallyOrdered("frame10.png", "frame2.png"))
    }
}
